// The whole CLI as one CommonJS file, dist/bin/kubespray-validate.cjs: every module reachable from
// src/cli.ts (the commands' dynamic import('./x.js') too) and every runtime dependency, with the
// version built in. It is what `npm pack` ships and what the single executable runs.
//
//   node --import tsx build/bundle.ts
//
// CommonJS because a Node single executable application runs one CommonJS script (and the npm
// package's bin must run on Node 20 too). Any esbuild
// warning fails the build: a dynamic import esbuild cannot follow, or an import.meta it would
// empty, would otherwise surface only when that command runs from the binary.
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BUNDLE = join(ROOT, 'dist', 'bin', 'kubespray-validate.cjs');

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

// ssh2's optional native parts (its crypto binding, cpu-features): a .node addon cannot be loaded
// from inside the executable, and the executable's require() warns on every try. ssh2 loads them
// in a try/catch and falls back to its JavaScript and node:crypto code, so the bundle holds a
// module that throws in their place: the same code runs from the binary and from the npm package.
const leaveOutNativeAddons: Plugin = {
  name: 'leave-out-native-addons',
  setup(b) {
    b.onResolve({ filter: /(^cpu-features$|\.node$)/ }, (a) => ({ path: a.path, namespace: 'native-addon' }));
    b.onLoad({ filter: /.*/, namespace: 'native-addon' }, (a) => ({
      contents: `throw new Error(${JSON.stringify(`${a.path}: native addon left out of the bundle`)});`,
      loader: 'js',
    }));
  },
};

export const bundleOptions = (outfile = BUNDLE, singleExecutable = false): BuildOptions => ({
  absWorkingDir: ROOT,
  entryPoints: ['src/cli.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  plugins: [leaveOutNativeAddons],
  define: {
    KSV_VERSION: JSON.stringify(packageVersion()),
    // the single-file binary's --version also names the Node inside (src/version.ts)
    ...(singleExecutable ? { KSV_SINGLE_EXECUTABLE: 'true' } : {}),
    // src/version.ts and yargs resolve files relative to their module; in the bundle that is the
    // bundle itself (or the executable): set by the banner below
    'import.meta.url': 'KSV_IMPORT_META_URL',
  },
  // "use strict" first: the sources are ES modules, strict throughout, and a banner line would
  // otherwise turn esbuild's own directive into a plain string
  banner: { js: `"use strict";\nvar KSV_IMPORT_META_URL = require("node:url").pathToFileURL(__filename).href;` },
  legalComments: 'none',
  logLevel: 'silent',
  metafile: true,
});

/** Build the bundle; returns its path and the files it holds (relative to the repository). */
export async function bundle(
  outfile = BUNDLE,
  singleExecutable = false,
): Promise<{ outfile: string; inputs: string[] }> {
  const result = await build(bundleOptions(outfile, singleExecutable));
  if (result.warnings.length) {
    const w = result.warnings.map((x) => `${x.location ? `${x.location.file}:${x.location.line}: ` : ''}${x.text}`);
    throw new Error(`esbuild warnings (fix them, the bundle would be incomplete):\n  ${w.join('\n  ')}`);
  }
  const inputs = result.metafile!.inputs;
  // whatever stayed outside the bundle must be part of Node: the executable's require() has nothing else
  const outside = Object.entries(inputs).flatMap(([file, i]) =>
    i.imports.filter((x) => x.external && !isBuiltin(x.path)).map((x) => `${file}: ${x.path}`),
  );
  if (outside.length)
    throw new Error(`left outside the bundle (the binary could not load them):\n  ${outside.join('\n  ')}`);
  return { outfile, inputs: Object.keys(inputs) };
}

/** 'node_modules/@scope/name/lib/x.js' -> '@scope/name'; null for the project's own files */
export function packageOf(file: string): string | null {
  const m = /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
  return m ? m[1]! : null;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const { outfile, inputs } = await bundle();
    const own = inputs.filter((f) => f.startsWith('src/')).length;
    const packages = new Set(inputs.map(packageOf).filter(Boolean)).size;
    process.stdout.write(`${relative(ROOT, outfile)}: ${own} modules of src/, ${packages} packages\n`);
  } catch (err) {
    process.stderr.write(`build/bundle: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
