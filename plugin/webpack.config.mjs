// Two builds from one config. `--env target=uxp` (default): the folder the UXP Developer Tool loads,
// plugin/dist (manifest, index.html, one bundle, css, icons; `--env outDir=...` elsewhere). `--env target=dev`: the browser
// development page with the fake host, plugin/build/dev.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { aliases } from '@swc-uxp-wrappers/utils';
import CopyWebpackPlugin from 'copy-webpack-plugin';
import HtmlWebpackPlugin from 'html-webpack-plugin';
import webpack from 'webpack';

const here = path.dirname(fileURLToPath(import.meta.url));
// One zod in the bundle: the protocol (compiled to CommonJS) requires it, the entry imports it.
const zod = createRequire(import.meta.url).resolve('zod');

export default (env = {}, argv = {}) => {
  const dev = env.target === 'dev';
  const mode = argv.mode ?? (dev ? 'development' : 'production');
  return {
    mode,
    context: here,
    entry: dev ? './dev/entry.ts' : './src/main.ts',
    target: 'web',
    // Source maps as separate files: UXP refuses eval without allowCodeGenerationFromStrings.
    devtool: 'source-map',
    output: { path: env.outDir ? path.resolve(env.outDir) : path.join(here, dev ? 'build/dev' : 'dist'), filename: 'index.js', clean: true },
    // Host modules come from UXP at run time.
    externals: dev ? {} : { uxp: 'commonjs2 uxp', premierepro: 'commonjs2 premierepro', fs: 'commonjs2 fs', os: 'commonjs2 os' },
    resolve: { extensions: ['.ts', '.js'], alias: { ...aliases, zod$: zod } },
    module: {
      rules: [
        {
          test: /\.ts$/,
          loader: 'ts-loader',
          exclude: /node_modules/,
          // tsc -b type-checks; the bundle only transpiles, as ES modules so webpack can tree-shake.
          options: { transpileOnly: true, compilerOptions: { module: 'es2022', moduleResolution: 'bundler', declaration: false, declarationMap: false, composite: false } },
        },
      ],
    },
    plugins: [
      new webpack.optimize.LimitChunkCountPlugin({ maxChunks: 1 }),
      new HtmlWebpackPlugin({ template: dev ? './dev/index.html' : './src/index.html', inject: 'body', scriptLoading: 'blocking', minify: false }),
      new CopyWebpackPlugin({
        patterns: [
          { from: './src/panel.css', to: 'panel.css' },
          ...(dev
            ? [{ from: './dev/dev.css', to: 'dev.css' }]
            : [{ from: '../manifest.json', to: 'manifest.json' }, { from: './icons', to: 'icons' }]),
        ],
      }),
    ],
    // index.html and panel.css go out as written: webpack 5.11x's "auto" HTML/CSS modules would rewrite them.
    experiments: { html: false, css: false },
    performance: { hints: false },
    stats: 'errors-warnings',
  };
};
