/**
 * Device selection: `--device auto|cpu|cuda`. `auto` takes CUDA when the library and a device
 * are present and otherwise falls back to the CPU with one log line; an explicit `cuda`
 * without a device is an Error that says why. `useDevice` also makes the result the default
 * device of new tensors.
 * @module
 */
import type { Device } from "../tensor/storage.ts";
import { setDefaultDevice } from "../tensor/tensor.ts";
import { cudaStatus } from "./cuda.ts";

/** What a user may ask for. */
export type DeviceChoice = "auto" | "cpu" | "cuda";

/** Whether tensors can live on CUDA in this process (loads the backend on first call). */
export function cudaAvailable(): boolean {
  return cudaStatus().available;
}

/**
 * Resolves a `--device` value to a concrete device. `log` receives the one fallback line of
 * `auto` (default: console.error, so stdout stays clean for reports).
 */
export function resolveDevice(choice: string = "auto", log: (msg: string) => void = console.error): Device {
  switch (choice) {
    case "cpu":
      return "cpu";
    case "cuda": {
      const s = cudaStatus();
      if (!s.available) throw new Error(`--device cuda: no usable CUDA device (${s.reason})`);
      return "cuda";
    }
    case "auto": {
      const s = cudaStatus();
      if (s.available) return "cuda";
      log(`device: CUDA not available (${s.reason}); using the CPU`);
      return "cpu";
    }
    default:
      throw new Error(`--device '${choice}': expected auto, cpu or cuda`);
  }
}

/** Resolves `choice` and makes it the default device of new tensors; returns it. */
export function useDevice(choice: string = "auto", log?: (msg: string) => void): Device {
  const d = resolveDevice(choice, log);
  setDefaultDevice(d);
  return d;
}
