import { describe, expect, it } from "vitest";
import { handlingStopSignal } from "./stop-signals.js";

// /proc/<pid>/status of GNU make 4.3 waiting for its recipe, before and after SIGINT to its pid.
const status = (blocked: string, caught: string) =>
  `State:\tS (sleeping)\nSigPnd:\t0000000000000000\nSigBlk:\t${blocked}\nSigIgn:\t0000000000000000\nSigCgt:\t${caught}\n`;

describe("make told to stop, as /proc shows it", () => {
  it("is not seen while make only waits for its recipe", () => {
    expect(handlingStopSignal(status("0000000000010000", "0000000001814207"))).toBe(false);
  });

  it("is seen while make runs its SIGINT handler (SIGINT blocked, back to its default)", () => {
    expect(handlingStopSignal(status("0000000000010002", "0000000001814205"))).toBe(true);
  });

  it("is not seen when a process merely blocks SIGINT but still catches it", () => {
    expect(handlingStopSignal(status("0000000000010002", "0000000001814207"))).toBe(false);
  });
});
