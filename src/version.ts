import { createRequire } from 'node:module';

// package.json is two levels up from both src/ (tsx) and dist/src/ (built): resolve it relative
// to this file so the version is right however the tool was started.
const require = createRequire(import.meta.url);
function readVersion(): string {
  for (const p of ['../package.json', '../../package.json']) {
    try {
      const pkg = require(p) as { name?: string; version?: string };
      if (pkg.name === 'kubespray-validate' && pkg.version) return pkg.version;
    } catch {
      /* try the next location */
    }
  }
  return '0.0.0';
}
// The single-file build (npm run build:binary) has no package.json beside it: it defines KSV_VERSION.
declare const KSV_VERSION: string | undefined;
export const VERSION = typeof KSV_VERSION === 'string' ? KSV_VERSION : readVersion();

// The single-file binary defines KSV_SINGLE_EXECUTABLE: its --version names the Node inside it
// and its platform after the version ("0.1.0 (node v24.22.3, linux-arm64)"), the first word
// unchanged. Reports carry VERSION alone, however the tool was started.
declare const KSV_SINGLE_EXECUTABLE: boolean | undefined;
export const VERSION_LINE =
  typeof KSV_SINGLE_EXECUTABLE === 'boolean' && KSV_SINGLE_EXECUTABLE
    ? `${VERSION} (node ${process.version}, ${process.platform}-${process.arch})`
    : VERSION;
