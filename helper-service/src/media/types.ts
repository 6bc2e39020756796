/** Shared shapes of the media layer. Pixel buffers are plain typed arrays so they cross worker threads cheaply. */

/** An exact frame rate, e.g. 24000/1001 for 23.976 fps. */
export interface Rational {
  readonly num: number;
  readonly den: number;
}

/** Frames of one size, row-major: RGB24 (3 bytes a pixel) unless a function says gray (1 byte). */
export interface VideoFrames {
  readonly width: number;
  readonly height: number;
  readonly frames: Uint8Array[];
}

/** The YUV <-> RGB matrix of a clip: HD and larger is BT.709, SD is BT.601. */
export type ColorMatrix = 'bt709' | 'bt601';
