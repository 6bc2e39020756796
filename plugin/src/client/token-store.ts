/**
 * Where the helper's pairing token is kept: UXP secureStorage in Premiere (see uxp/environment.ts),
 * localStorage on the browser development page. UXP has no TextDecoder, and secureStorage hands back
 * a Uint8Array, so bytes are decoded here.
 */
export interface TokenStore {
  load(): Promise<string | null>;
  save(token: string): Promise<void>;
  clear(): Promise<void>;
}

/** UTF-8 bytes to text (invalid sequences become U+FFFD), without TextDecoder. */
export function decodeUtf8(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  const continuation = (k: number) => {
    const b = bytes[i + k];
    return b !== undefined && (b & 0xc0) === 0x80 ? b & 0x3f : -1;
  };
  while (i < bytes.length) {
    const b0 = bytes[i]!;
    let codePoint = 0xfffd;
    let length = 1;
    if (b0 < 0x80) {
      codePoint = b0;
    } else if (b0 >= 0xc2 && b0 < 0xe0) {
      const b1 = continuation(1);
      if (b1 >= 0) [codePoint, length] = [((b0 & 0x1f) << 6) | b1, 2];
    } else if (b0 >= 0xe0 && b0 < 0xf0) {
      const [b1, b2] = [continuation(1), continuation(2)];
      const cp = ((b0 & 0x0f) << 12) | (b1 << 6) | b2;
      if (b1 >= 0 && b2 >= 0 && cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff)) [codePoint, length] = [cp, 3];
    } else if (b0 >= 0xf0 && b0 < 0xf5) {
      const [b1, b2, b3] = [continuation(1), continuation(2), continuation(3)];
      const cp = ((b0 & 0x07) << 18) | (b1 << 12) | (b2 << 6) | b3;
      if (b1 >= 0 && b2 >= 0 && b3 >= 0 && cp >= 0x10000 && cp <= 0x10ffff) [codePoint, length] = [cp, 4];
    }
    out += String.fromCodePoint(codePoint);
    i += length;
  }
  return out;
}

const TOKEN_KEY = 'reatco.helperToken';

/** The dev page's store (also any Storage-like object in tests). */
export function webStorageTokenStore(storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>): TokenStore {
  return {
    load: async () => storage.getItem(TOKEN_KEY) || null,
    save: async (token) => storage.setItem(TOKEN_KEY, token),
    clear: async () => storage.removeItem(TOKEN_KEY),
  };
}

export interface SecureStorageLike {
  getItem(key: string): Promise<Uint8Array | null | undefined>;
  setItem(key: string, value: string): Promise<void>;
  removeItem(key: string): Promise<void>;
}

/** UXP's secureStorage: a cache that may be emptied by the OS, so a missing token means "pair again". */
export function secureTokenStore(secure: SecureStorageLike): TokenStore {
  return {
    async load() {
      try {
        const bytes = await secure.getItem(TOKEN_KEY);
        const token = bytes ? decodeUtf8(bytes).trim() : '';
        return token || null;
      } catch {
        return null;
      }
    },
    save: (token) => secure.setItem(TOKEN_KEY, token),
    clear: () => secure.removeItem(TOKEN_KEY),
  };
}
