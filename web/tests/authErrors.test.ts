import { describe, expect, it } from 'vitest';
import { describeAuthError } from '../src/auth/firebase';

describe('describeAuthError', () => {
  it('turns Firebase Auth codes into sentences', () => {
    expect(describeAuthError({ code: 'auth/invalid-credential' })).toBe('The email or password is wrong.');
    expect(describeAuthError({ code: 'auth/popup-blocked' })).toMatch(/Allow pop-ups/);
  });

  it('keeps the message of anything else', () => {
    expect(describeAuthError(new Error('odd failure'))).toBe('odd failure');
  });
});
