/**
 * The bench starts services and peers in process groups of their own (so a
 * group can be killed whole: a worker's guests, Ray's helpers). Those groups
 * do not get the terminal's Ctrl-C, so every one is registered here and
 * killed when the bench exits, however it exits: normally, by an uncaught
 * error, or by SIGINT/SIGTERM (then with status 130).
 */
const groups = new Set<number>();

function killAll(): void {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  groups.clear();
}

let installed = false;

/** Registers a process group (its leader's pid); returns the function that unregisters it. */
export function reapOnExit(pgid: number): () => void {
  if (!installed) {
    installed = true;
    process.once('exit', killAll);
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        process.stderr.write(`\nbench: ${sig}; stopping the processes it started\n`);
        killAll();
        process.exit(130);
      });
    }
  }
  groups.add(pgid);
  return () => groups.delete(pgid);
}
