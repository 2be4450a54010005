// A one-line progress bar on a TTY (stderr); silent elsewhere so logs and pipes stay clean.
import type { Io } from './io.js';

export function progressBar(io: Io, label: string): { update(done: number, total: number): void; end(): void } {
  const tty = io.stderr.isTTY === true;
  let last = 0;
  let ended = false;
  return {
    update(done, total) {
      if (!tty || ended || total < 50) return;
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      const width = 30;
      const filled = Math.round((done / total) * width);
      io.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
    },
    end() {
      if (tty && last && !ended) io.stderr.write('\n');
      ended = true;
    },
  };
}
