/**
 * Finds and opens the project's native libraries. Deno's `Deno.dlopen` is used directly:
 * the usual helper (denosaurs' plug) lives on deno.land, which is unreachable here, so this
 * is the small part of it we need: plug's naming rule (`lib<name>.so` / `.dylib` / `<name>.dll`),
 * an `FT_LIB_DIR` override, the repo's `build/`, and an error that lists every path tried.
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The platform file name of a library, e.g. `ft_cpu` -> `libft_cpu.so` on Linux. */
export function libraryFileName(name: string): string {
  if (Deno.build.os === "windows") return `${name}.dll`;
  if (Deno.build.os === "darwin") return `lib${name}.dylib`;
  return `lib${name}.so`;
}

/** Candidate paths for a library, in search order. */
export function libraryCandidates(name: string): string[] {
  const file = libraryFileName(name);
  const out: string[] = [];
  let env: string | undefined;
  try {
    env = Deno.env.get("FT_LIB_DIR");
  } catch {
    env = undefined; // no --allow-env: fall through to the repo build
  }
  if (env) out.push(join(env, file));
  out.push(join(REPO_ROOT, "build", file));
  return out;
}

/** Path of the first existing candidate, or null. `tried` receives every path looked at. */
export function findLibrary(name: string, tried: string[] = []): string | null {
  for (const p of libraryCandidates(name)) {
    tried.push(p);
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch {
      // not there: try the next one
    }
  }
  return null;
}

/** Opens `name` with `symbols`; throws an Error listing the paths tried when it is missing. */
export function openLibrary<S extends Deno.ForeignLibraryInterface>(
  name: string,
  symbols: S,
): Deno.DynamicLibrary<S> {
  const tried: string[] = [];
  const path = findLibrary(name, tried);
  if (!path) {
    throw new Error(
      `native library '${libraryFileName(name)}' not found; tried:\n  ${tried.join("\n  ")}\n` +
        `build it with 'bash scripts/build.sh' or point FT_LIB_DIR at its folder`,
    );
  }
  return Deno.dlopen(path, symbols);
}
