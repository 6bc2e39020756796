/** NoiseAhead: the IRJS noise drawn on its own thread is draw for draw the engine's normal(). */
import { NoiseAhead } from '../../src/engine/noise-ahead';
import { irjsStream, normal } from '../../src/engine/random';

describe('NoiseAhead', () => {
  it('returns the streams normal() draws, in order, whatever the depth', async () => {
    const streams = [0, 1, 2, 3, 4].map(irjsStream);
    for (const depth of [1, 2, 8]) {
      const ahead = new NoiseAhead(7, 1000, streams, depth);
      try {
        for (const stream of streams) expect(await ahead.take(stream)).toEqual(normal(7, stream, 1000));
      } finally {
        await ahead.close();
      }
    }
  });

  it('refuses a stream it was not asked for, or one taken already', async () => {
    const ahead = new NoiseAhead(1, 10, [irjsStream(0)]);
    try {
      await expect(ahead.take(irjsStream(5))).rejects.toThrow(/not asked for/);
      await ahead.take(irjsStream(0));
      await expect(ahead.take(irjsStream(0))).rejects.toThrow(/taken already/);
    } finally {
      await ahead.close();
    }
  });
});
