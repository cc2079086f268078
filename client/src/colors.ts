/**
 * A stable colour per person: hashed from `sub`, so everyone sees Ada in the
 * same colour on every page and after every reconnect.
 */
const PALETTE = ['#e5484d', '#0091ff', '#30a46c', '#f76b15', '#8e4ec6', '#d6409f', '#12a594', '#ad7f58', '#3e63dd', '#ca9b00'];

export function colorOf(sub: string): string {
  let hash = 2166136261;
  for (let i = 0; i < sub.length; i++) hash = Math.imul(hash ^ sub.charCodeAt(i), 16777619);
  return PALETTE[(hash >>> 0) % PALETTE.length]!;
}

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0]![0]! + parts[parts.length - 1]![0]! : (parts[0] ?? '?').slice(0, 1);
  return letters.toUpperCase();
}
