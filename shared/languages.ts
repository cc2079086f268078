/**
 * Languages an interview can be set to: Monaco language ids, with the file a
 * new interview starts with.
 */
export const LANGUAGES = {
  javascript: { label: 'JavaScript', file: 'main.js' },
  typescript: { label: 'TypeScript', file: 'main.ts' },
  python: { label: 'Python', file: 'main.py' },
  java: { label: 'Java', file: 'Main.java' },
  go: { label: 'Go', file: 'main.go' },
  rust: { label: 'Rust', file: 'main.rs' },
  cpp: { label: 'C++', file: 'main.cpp' },
  c: { label: 'C', file: 'main.c' },
  csharp: { label: 'C#', file: 'Main.cs' },
  kotlin: { label: 'Kotlin', file: 'Main.kt' },
  ruby: { label: 'Ruby', file: 'main.rb' },
  php: { label: 'PHP', file: 'main.php' },
  sql: { label: 'SQL', file: 'main.sql' },
  shell: { label: 'Shell', file: 'main.sh' },
  plaintext: { label: 'Plain text', file: 'main.txt' },
} as const;

export type Language = keyof typeof LANGUAGES;
export const LANGUAGE_IDS = Object.keys(LANGUAGES) as [Language, ...Language[]];
export const DEFAULT_LANGUAGE: Language = 'python';
