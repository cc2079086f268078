/**
 * A stable colour per person. The node lists participants in the order they
 * first joined, and that list only grows, so the n-th person to join gets the
 * n-th colour on every page, after every reconnect, and no two of the first
 * ten share one. Anyone not in the list yet (a message from someone whose
 * join we have not heard of) falls back to a hash of their `sub`.
 */
const PALETTE = ['#e5484d', '#0091ff', '#30a46c', '#f76b15', '#8e4ec6', '#d6409f', '#12a594', '#ad7f58', '#3e63dd', '#ca9b00'];

// One page shows one room, so one assignment per page.
const assigned = new Map<string, string>();

export function assignColors(participantsInJoinOrder: Array<{ sub: string }>): void {
  participantsInJoinOrder.forEach((p, i) => assigned.set(p.sub, PALETTE[i % PALETTE.length]!));
}

export function colorOf(sub: string): string {
  const known = assigned.get(sub);
  if (known) return known;
  let hash = 2166136261;
  for (let i = 0; i < sub.length; i++) hash = Math.imul(hash ^ sub.charCodeAt(i), 16777619);
  return PALETTE[(hash >>> 0) % PALETTE.length]!;
}

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0]![0]! + parts[parts.length - 1]![0]! : (parts[0] ?? '?').slice(0, 1);
  return letters.toUpperCase();
}
