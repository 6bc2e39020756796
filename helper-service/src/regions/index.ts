export * from './track';
export * from './raster';
