import { spawn } from 'node:child_process';
import { F_BIN, requireBuild } from './flow-process.js';

export interface FResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `f` with the given environment and waits for it to end. */
export function runF(args: string[], env: Record<string, string>, timeoutMs = 20_000): Promise<FResult> {
  requireBuild();
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [F_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`f ${args.join(' ')} did not finish:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
