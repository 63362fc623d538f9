// A test worker process that dies mid-run (a crash, a signal from outside) leaves vitest with
// "Error: Channel closed" or "Worker exited unexpectedly", and no word of how it ended or what it
// was running. Global setup (the vitest process) watches its workers' exits; each worker notes
// the file it is running (tests/setup/note-running-file.ts). A worker that ends other than as the
// pool stops it (exit 0, or SIGTERM) is reported on stderr with that file and what the kernel
// logged about the process (a segmentation fault, the OOM killer), where dmesg can be read.
import childProcess from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

declare module "vitest" {
  export interface ProvidedContext {
    /** A folder where each test worker writes the path of the file it is running, in a file named by its pid. */
    runningFiles: string;
  }
}

/** Starts watching; answers the folder the workers note their files in, and how to stop. */
export function watchWorkerExits(): { runningFiles: string; stop(): void } {
  const runningFiles = mkdtempSync(join(tmpdir(), "order-service-test-workers-"));
  const fork = childProcess.fork;
  // The pool imported `fork` from node:child_process: syncBuiltinESMExports updates that binding too.
  childProcess.fork = ((...args: Parameters<typeof fork>) => {
    const child = fork(...args);
    child.once("exit", (code, signal) => {
      if (code === 0 || signal === "SIGTERM" || child.pid === undefined) return;
      process.stderr.write(`${describeExit(child.pid, code, signal, runningFiles)}\n`);
    });
    return child;
  }) as typeof fork;
  syncBuiltinESMExports();
  return {
    runningFiles,
    stop() {
      childProcess.fork = fork;
      syncBuiltinESMExports();
      rmSync(runningFiles, { recursive: true, force: true });
    },
  };
}

function describeExit(pid: number, code: number | null, signal: NodeJS.Signals | null, runningFiles: string): string {
  const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  let file = "no test file yet";
  try {
    file = relative(process.cwd(), readFileSync(join(runningFiles, String(pid)), "utf8"));
  } catch {}
  return [`Test worker ${pid} ${how} while running ${file}.`, ...kernelLinesAbout(pid)].join("\n");
}

/** What the kernel logged about the process: "node[pid]: segfault at …", "Killed process pid (node) …". */
function kernelLinesAbout(pid: number): string[] {
  try {
    const log = childProcess.execFileSync("dmesg", { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const lines = log.split("\n").filter((line) => line.includes(`[${pid}]`) || line.includes(`process ${pid} `));
    return lines.length > 0 ? ["The kernel logged:", ...lines] : ["The kernel logged nothing about it."];
  } catch {
    return ["(dmesg could not be read here)"];
  }
}
