/**
 * What a file path may look like for a run to hold it in /work: relative, no
 * `.` or `..` segments, no empty ones, letters, digits and `. _ + -`. Apart
 * from the zod schemas so the room page can check a file name without
 * shipping zod.
 */
export const RUN_PATH_PATTERN = /^(?!.*(^|\/)\.{1,2}(\/|$))[\w.+-]+(\/[\w.+-]+)*$/;
export const RUN_PATH_MAX_CHARS = 200;

export function isRunPath(path: string): boolean {
  return path.length > 0 && path.length <= RUN_PATH_MAX_CHARS && RUN_PATH_PATTERN.test(path);
}
