import type { FastifyServerOptions } from "fastify";
import pinoPretty from "pino-pretty";
import type { Config } from "./config.js";
import { traceIdMixin } from "./http/trace-context.js";

type LoggerOptions = Exclude<FastifyServerOptions["logger"], boolean | undefined>;

/**
 * Development reads like text (pino-pretty, in this thread so nothing is lost on exit);
 * everywhere else one JSON object per line with an ISO-8601 time, for log collectors.
 */
export function loggerOptions(config: Pick<Config, "NODE_ENV" | "LOG_LEVEL">): LoggerOptions {
  if (config.NODE_ENV === "development") {
    return {
      level: config.LOG_LEVEL,
      mixin: traceIdMixin,
      stream: pinoPretty({
        translateTime: "SYS:HH:MM:ss.l",
        // One line per request event: its id, method and URL, or status and time, then the message.
        ignore: "pid,hostname,request_id,trace_id,req,res,responseTime",
        messageFormat:
          "{if request_id}[{request_id}] {end}{msg}{if req.method} {req.method} {req.url}{end}{if res.statusCode} → {res.statusCode} in {responseTime} ms{end}",
        colorize: process.stdout.isTTY,
        sync: true,
      }),
    };
  }
  return { level: config.LOG_LEVEL, mixin: traceIdMixin, timestamp: () => `,"time":"${new Date().toISOString()}"` };
}
