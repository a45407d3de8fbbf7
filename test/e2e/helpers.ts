// Runs the built CLI (dist/src/cli.js, as `npx kubespray-validate` would) against a lab.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Report } from '../../src/types.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'dist', 'src', 'cli.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<CliRun> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

/** A fresh known_hosts per test file, removed at the end. */
export function tempKnownHosts(): { file: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'ksv-kh-'));
  return { file: join(dir, 'known_hosts'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Validate a lab and parse the JSON report. */
export async function validateJson(
  inventoryDir: string,
  knownHosts: string,
  extra: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<{ run: CliRun; report: Report }> {
  const run = await runCli(
    [
      '-i',
      inventoryDir,
      '--known-hosts',
      knownHosts,
      '-o',
      'json',
      '--progress',
      'none',
      '--probe-count',
      '3',
      '--probe-timeout',
      '1500',
      '--timeout',
      '10',
      ...extra,
    ],
    env,
  );
  let report: Report;
  try {
    report = JSON.parse(run.stdout) as Report;
  } catch {
    throw new Error(`no JSON report (exit ${run.code}): ${run.stderr.slice(0, 2000)}`);
  }
  return { run, report };
}

export function failing(report: Report): string[] {
  return report.diagnoses
    .filter((d) => d.severity === 'fail')
    .map((d) => d.id)
    .sort();
}
