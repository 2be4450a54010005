// Suggestions for misspelt names: edit distance, abbreviations, and a name that is part of another.
import { describe, expect, it } from 'vitest';
import { closest } from '../src/workflow/did-you-mean.js';

describe('closest', () => {
  it('suggests the candidate within a small edit distance', () => {
    expect(closest('emial', ['email', 'title', 'city'])).toBe('email');
    expect(closest('zzzz', ['email', 'title', 'city'])).toBeUndefined();
  });

  it('expands an abbreviation written in capitals into the one name it stands for', () => {
    const countries = ['United Kingdom', 'United States of America', 'Uruguay', 'Sweden'];
    expect(closest('USA', countries)).toBe('United States of America');
    expect(closest('UK', countries)).toBe('United Kingdom');
    // lower case is a word, not an abbreviation
    expect(closest('usa', countries)).toBeUndefined();
  });

  it('gives no abbreviation when two names share the initials', () => {
    expect(closest('UA', ['United Arabia', 'Upper Austria'])).toBeUndefined();
  });

  it('suggests the one name that has the word as a part', () => {
    expect(closest('role', ['user_role', 'business_unit', 'title'])).toBe('user_role');
    expect(closest('name', ['first_name', 'last_name'])).toBeUndefined();
  });
});
