import { decodeUtf8, secureTokenStore, type SecureStorageLike } from '../src/client/token-store';

const bytes = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));

describe('UTF-8 decoding without TextDecoder', () => {
  test.each(['hlXvZ3k_0-Qa9bR2sT4uV6wX8yZ1aB3c', 'café', '日本語のトークン', 'emoji 🎬 clip', ''])('%s round-trips', (text) => {
    expect(decodeUtf8(bytes(text))).toBe(text);
  });

  test('broken sequences become U+FFFD instead of throwing', () => {
    expect(decodeUtf8(new Uint8Array([0x61, 0xc3]))).toBe('a\ufffd');
    expect(decodeUtf8(new Uint8Array([0xe2, 0x28, 0xa1]))).toBe('\ufffd(\ufffd');
    expect(decodeUtf8(new Uint8Array([0xed, 0xa0, 0x80]))).toBe('\ufffd\ufffd\ufffd'); // a UTF-16 surrogate
  });
});

describe('the pairing token in UXP secureStorage', () => {
  function secure(): SecureStorageLike & { map: Map<string, Uint8Array> } {
    const map = new Map<string, Uint8Array>();
    return {
      map,
      getItem: async (key) => map.get(key) ?? null,
      setItem: async (key, value) => void map.set(key, bytes(value)),
      removeItem: async (key) => void map.delete(key),
    };
  }

  test('saved as text, read back from the Uint8Array secureStorage returns', async () => {
    const storage = secure();
    const tokens = secureTokenStore(storage);
    expect(await tokens.load()).toBeNull();
    await tokens.save('tok-123');
    expect([...storage.map.values()][0]).toBeInstanceOf(Uint8Array);
    expect(await tokens.load()).toBe('tok-123');
    await tokens.clear();
    expect(await tokens.load()).toBeNull();
  });

  test('a storage that throws (emptied by the OS) means "pair again", not a crash', async () => {
    const tokens = secureTokenStore({ ...secure(), getItem: async () => Promise.reject(new Error('no such key')) });
    expect(await tokens.load()).toBeNull();
  });
});
