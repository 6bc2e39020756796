import { isBrowserOrigin } from '../../src/server/security';

describe('isBrowserOrigin', () => {
  it.each(['https://evil.example', 'http://localhost:5173', 'file://', 'chrome-extension://abc', 'data:', 'NULL'])('refuses %s', (origin) =>
    expect(isBrowserOrigin(origin)).toBe(true),
  );
  it.each([undefined, '', 'uxp://com.reatco.edit'])('accepts %p', (origin) => expect(isBrowserOrigin(origin)).toBe(false));
  it('accepts "null" only when the helper was started to', () => {
    expect(isBrowserOrigin('null', true)).toBe(false);
    expect(isBrowserOrigin('https://evil.example', true)).toBe(true);
  });
});
