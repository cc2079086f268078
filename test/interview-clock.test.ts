/** The room's clock (client/src/interview-clock.ts): where it starts and how it reads. */
import { describe, expect, it } from 'vitest';
import { clockStart, clockText } from '../client/src/interview-clock.js';
import type { Participant } from '../shared/protocol.js';

const person = (role: Participant['role'], firstSeen?: string): Participant => ({ sub: `${role}-${firstSeen}`, name: role, role, online: true, ...(firstSeen ? { firstSeen } : {}) });

describe('the interview clock', () => {
  it("starts at the first candidate's first join, and not before a candidate has joined", () => {
    expect(clockStart([person('interviewer', '2026-12-02T10:00:00.000Z'), person('observer', '2026-12-02T10:01:00.000Z')])).toBeUndefined();
    expect(
      clockStart([
        person('interviewer', '2026-12-02T10:00:00.000Z'),
        person('candidate', '2026-12-02T10:05:00.000Z'),
        person('candidate', '2026-12-02T10:03:00.000Z'),
        // A node from before firstSeen: that entry says nothing.
        person('candidate'),
      ]),
    ).toBe(Date.parse('2026-12-02T10:03:00.000Z'));
  });

  it('reads minutes and seconds, hours once past one, and never below zero', () => {
    expect(clockText(42_400)).toBe('0:42');
    expect(clockText((12 * 60 + 5) * 1000)).toBe('12:05');
    expect(clockText((3600 + 2 * 60 + 5) * 1000)).toBe('1:02:05');
    expect(clockText(-3000)).toBe('0:00');
  });
});
