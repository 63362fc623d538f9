import { ConfigError } from "../config.js";
import { StartupError } from "./error.js";

/**
 * The one line printed when start-up (of the server or a script) fails: a StartupError's or
 * ConfigError's message as it stands; anything else briefly, with its stack only when asked for
 * (LOG_LEVEL=debug or trace).
 */
export function startupFailureMessage(error: unknown, env: NodeJS.ProcessEnv = process.env): string {
  if (error instanceof StartupError) return error.message;
  if (error instanceof ConfigError) {
    // env-schema names variables "env/PORT"; the operator knows them as PORT.
    const message = error.message.replace(/\benv\//g, "").replace(/[.\s]+$/, "");
    return `${message}. Fix the environment and start again (docs/reference/configuration.md).`;
  }
  if (["debug", "trace"].includes(env.LOG_LEVEL ?? "")) {
    return `Start-up failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
  }
  const message =
    error instanceof Error
      ? error.message
          .split("\n")
          .find((line) => line.trim() !== "")
          ?.trim()
      : String(error);
  return `Start-up failed: ${message} (start with LOG_LEVEL=debug to see where).`;
}

/** Prints startupFailureMessage(error) and exits 1. */
export function exitWithStartupFailure(error: unknown): never {
  console.error(startupFailureMessage(error));
  process.exit(1);
}
