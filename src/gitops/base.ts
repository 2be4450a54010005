// `plan --base REF`: the workflow directory as it was at a git ref, materialized into a temp dir
// so the ordinary loader can read it. Git runs through execFile (no shell); nothing is written to
// the repository.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { SkeinError } from '../errors.js';

/** The base side of a plan. */
export interface BaseCheckout {
  /** The ref as given (e.g. origin/main). */
  ref: string;
  /** Full commit id the ref resolves to. */
  commit: string;
  /** Root of the repository (real path). */
  toplevel: string;
  /** The workflow directory relative to the repository root, with forward slashes ('' = root). */
  dirInRepo: string;
  /** The workflow directory at REF, materialized; undefined when it does not exist at REF. */
  dir?: string;
  /** What to use as cwd when loading the base, so file names read like the head's. */
  cwd: string;
  /** Uncommitted (or untracked) files under the workflow directory in the working tree. */
  dirtyFiles: string[];
  /** Removes the temp dir. Safe to call twice. */
  cleanup(): void;
}

export interface BaseOptions {
  /** Where the command runs (the user's cwd). */
  cwd: string;
  /** The workflow directory, relative to cwd or absolute. */
  dir: string;
  ref: string;
}

interface GitResult {
  stdout: Buffer;
  stderr: string;
}

const MAX_BUFFER = 256 * 1024 * 1024;

/** Runs git without a shell; turns "git missing" and "not a repository" into SkeinErrors. */
function git(args: string[], cwd: string): Promise<GitResult> {
  return new Promise((resolvePromise, reject) => {
    execFile('git', args, { cwd, encoding: 'buffer', maxBuffer: MAX_BUFFER, env: { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' } }, (err, stdout, stderr) => {
      const errText = stderr.toString('utf8');
      if (err) {
        const e = err as NodeJS.ErrnoException & { code?: unknown };
        if (e.code === 'ENOENT') {
          reject(new SkeinError('git-missing', 'git is not installed or not on PATH; --base needs git', { cause: err }));
          return;
        }
        if (/not a git repository/i.test(errText)) {
          reject(new SkeinError('not-a-git-repository', `${cwd} is not inside a git repository; --base compares against a git ref, so run it in a clone`, { cause: err }));
          return;
        }
        reject(Object.assign(new SkeinError('git-failed', `git ${args[0]} failed: ${errText.trim().split('\n')[0] ?? e.message}`, { cause: err }), { stderr: errText }));
        return;
      }
      resolvePromise({ stdout, stderr: errText });
    });
  });
}

const toPosix = (p: string) => p.split(sep).join('/');

/**
 * Materializes `dir` at `ref` into a temp dir. Throws SkeinError `not-a-git-repository`,
 * `unknown-ref`, `git-missing`; a directory missing at REF is not an error (`dir` is undefined).
 */
export async function checkoutBase(opts: BaseOptions): Promise<BaseCheckout> {
  // A leading dash would reach git as an option.
  if (opts.ref.startsWith('-')) throw new SkeinError('unknown-ref', `unknown git ref "${opts.ref}": a ref cannot start with "-"`);
  const absDir = resolve(opts.cwd, opts.dir);
  const from = existsSync(absDir) ? absDir : opts.cwd;
  const top = (await git(['rev-parse', '--show-toplevel'], from)).stdout.toString('utf8').trim();
  const toplevel = realpathSync(top);
  let commit: string;
  try {
    commit = (await git(['rev-parse', '--verify', '--quiet', `${opts.ref}^{commit}`], toplevel)).stdout.toString('utf8').trim();
  } catch (err) {
    if (err instanceof SkeinError && err.code === 'git-failed') {
      throw new SkeinError('unknown-ref', `unknown git ref "${opts.ref}" (no commit by that name in ${toplevel}); in CI fetch it first, e.g. git fetch origin main, or use a full clone (fetch-depth: 0)`, { cause: err });
    }
    throw err;
  }
  const realDir = existsSync(absDir) ? realpathSync(absDir) : resolve(realpathSync(opts.cwd), opts.dir);
  const rel = relative(toplevel, realDir);
  if (rel.startsWith('..')) throw new SkeinError('not-a-git-repository', `${opts.dir} is outside the git repository at ${toplevel}`);
  const dirInRepo = toPosix(rel);
  const realCwd = realpathSync(opts.cwd);
  const cwdInRepo = relative(toplevel, realCwd);

  const tmp = mkdtempSync(join(tmpdir(), 'skein-base-'));
  const cleanup = () => rmSync(tmp, { recursive: true, force: true });
  try {
    // -z: paths verbatim; entries are "<mode> <type> <object>\t<path>".
    const listing = (await git(['ls-tree', '-r', '-z', '--full-tree', commit, '--', ...(dirInRepo ? [dirInRepo] : [])], toplevel)).stdout.toString('utf8');
    const files = listing
      .split('\0')
      .filter(Boolean)
      .map((entry) => {
        const tab = entry.indexOf('\t');
        const [mode, type, object] = entry.slice(0, tab).split(' ');
        return { mode, type, object: object!, path: entry.slice(tab + 1) };
      })
      // Every regular file: workflows, skein.yaml, and what tests read (response fixtures).
      // Symlinks (120000) and submodules are not followed.
      .filter((f) => f.type === 'blob' && f.mode !== '120000');
    const root = join(tmp, 'repo');
    mkdirSync(root, { recursive: true });
    const blobs = await readBlobs(toplevel, files.map((f) => f.object));
    for (const f of files) {
      const target = join(root, ...f.path.split('/'));
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, blobs.get(f.object)!);
    }
    const baseDir = join(root, ...(dirInRepo ? dirInRepo.split('/') : []));
    const status = (await git(['status', '--porcelain', '-z', '--untracked-files=all', '--', dirInRepo || '.'], toplevel)).stdout.toString('utf8');
    const dirtyFiles = parsePorcelain(status);
    return {
      ref: opts.ref,
      commit,
      toplevel,
      dirInRepo,
      dir: files.length && existsSync(baseDir) ? baseDir : undefined,
      cwd: cwdInRepo.startsWith('..') ? root : join(root, cwdInRepo),
      dirtyFiles,
      cleanup,
    };
  } catch (err) {
    cleanup();
    throw err;
  }
}

/** Contents of blobs by id, through one `git cat-file --batch`. */
function readBlobs(cwd: string, ids: string[]): Promise<Map<string, Buffer>> {
  const unique = [...new Set(ids)];
  if (!unique.length) return Promise.resolve(new Map());
  return new Promise((resolvePromise, reject) => {
    const child = spawn('git', ['cat-file', '--batch'], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', (err) => reject(new SkeinError('git-missing', 'git is not installed or not on PATH; --base needs git', { cause: err })));
    child.on('close', (code) => {
      if (code !== 0) return reject(new SkeinError('git-failed', `git cat-file failed: ${stderr.trim()}`));
      // Output per object: "<id> blob <size>\n<content>\n".
      const out = Buffer.concat(chunks);
      const map = new Map<string, Buffer>();
      let pos = 0;
      for (const id of unique) {
        const nl = out.indexOf(10, pos);
        const [got, type, size] = out.subarray(pos, nl).toString('utf8').split(' ');
        if (got !== id || type !== 'blob') return reject(new SkeinError('git-failed', `git cat-file: unexpected answer for ${id}`));
        const start = nl + 1;
        map.set(id, out.subarray(start, start + Number(size)));
        pos = start + Number(size) + 1;
      }
      resolvePromise(map);
    });
    child.stdin.end(unique.map((id) => `${id}\n`).join(''));
  });
}

/** Paths from `git status --porcelain -z` (a rename entry is followed by its old path). */
function parsePorcelain(text: string): string[] {
  const parts = text.split('\0');
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p.length < 4) continue;
    out.push(p.slice(3));
    if (p[0] === 'R' || p[0] === 'C') i++;
  }
  return out.sort();
}
