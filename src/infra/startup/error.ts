/**
 * A start-up failure the operator can fix. Its message is the one line printed before the process
 * exits (no stack): what happened, then what to do about it.
 */
export class StartupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StartupError";
  }
}
