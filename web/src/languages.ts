// Which language a kernel image runs, and its CodeMirror highlighting.
// Each mode is its own chunk, loaded only when a notebook needs it.
import type { Extension } from "@codemirror/state";

// languageOf names the language of an image ("python:3.11-debian",
// "bai/cpp:gcc12-debian", "registry/x/python:3.11" → python, cpp, python).
export function languageOf(image: string): string {
  const repo = image.split(":")[0] ?? image;
  const base = repo.split("/").pop() ?? repo;
  return base.toLowerCase();
}

// displayName is how the notebook names the language.
export function displayName(lang: string): string {
  const names: Record<string, string> = {
    python: "Python", bash: "Bash", c: "C", cpp: "C++", java: "Java", go: "Go", rust: "Rust", ruby: "Ruby",
    lua: "Lua", r: "R", haskell: "Haskell", scheme: "Scheme", perl: "Perl", octave: "Octave", nodejs: "JavaScript", php: "PHP",
  };
  return names[lang] ?? lang;
}

// highlighting loads the editor support for a language; languages without
// a mode (PHP) get plain text.
export async function highlighting(lang: string): Promise<Extension> {
  const { StreamLanguage } = await import("@codemirror/language");
  const legacy = async (load: () => Promise<Parameters<typeof StreamLanguage.define>[0]>) => StreamLanguage.define(await load());
  switch (lang) {
    case "python":
      return (await import("@codemirror/lang-python")).python();
    case "bash":
    case "sh":
    case "shell":
      return legacy(async () => (await import("@codemirror/legacy-modes/mode/shell")).shell);
    case "c":
      return legacy(async () => (await import("@codemirror/legacy-modes/mode/clike")).c);
    case "cpp":
    case "c++":
      return legacy(async () => (await import("@codemirror/legacy-modes/mode/clike")).cpp);
    case "java":
      return legacy(async () => (await import("@codemirror/legacy-modes/mode/clike")).java);
    case "kotlin":
      return legacy(async () => (await import("@codemirror/legacy-modes/mode/clike")).kotlin);
    case "scala":
      return legacy(async () => (await import("@codemirror/legacy-modes/mode/clike")).scala);
    case "csharp":
    case "dotnet":
      return legacy(async () => (await import("@codemirror/legacy-modes/mode/clike")).csharp);
    case "go":
    case "golang":
      return legacy(async () => (await import("@codemirror/legacy-modes/mode/go")).go);
    case "rust":
      return legacy(async () => (await import("@codemirror/legacy-modes/mode/rust")).rust);
    case "ruby":
      return legacy(async () => (await import("@codemirror/legacy-modes/mode/ruby")).ruby);
    case "lua":
      return legacy(async () => (await import("@codemirror/legacy-modes/mode/lua")).lua);
    case "r":
      return legacy(async () => (await import("@codemirror/legacy-modes/mode/r")).r);
    case "haskell":
      return legacy(async () => (await import("@codemirror/legacy-modes/mode/haskell")).haskell);
    case "scheme":
    case "racket":
      return legacy(async () => (await import("@codemirror/legacy-modes/mode/scheme")).scheme);
    case "perl":
      return legacy(async () => (await import("@codemirror/legacy-modes/mode/perl")).perl);
    case "octave":
    case "matlab":
      return legacy(async () => (await import("@codemirror/legacy-modes/mode/octave")).octave);
    case "nodejs":
    case "javascript":
    case "node":
      return legacy(async () => (await import("@codemirror/legacy-modes/mode/javascript")).javascript);
    case "typescript":
      return legacy(async () => (await import("@codemirror/legacy-modes/mode/javascript")).typescript);
    case "julia":
      return legacy(async () => (await import("@codemirror/legacy-modes/mode/julia")).julia);
    case "swift":
      return legacy(async () => (await import("@codemirror/legacy-modes/mode/swift")).swift);
    case "erlang":
      return legacy(async () => (await import("@codemirror/legacy-modes/mode/erlang")).erlang);
    case "fortran":
      return legacy(async () => (await import("@codemirror/legacy-modes/mode/fortran")).fortran);
    default:
      return [];
  }
}
