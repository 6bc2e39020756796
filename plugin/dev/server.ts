/**
 * The development page's server (Node): serves the built page and the helper's preview JPEGs
 * over http on 127.0.0.1, and relays the page's WebSocket to the helper. The relay exists because
 * the helper refuses browser origins (as it must); it accepts only this page's own origin and the
 * helper still requires the pairing token.
 */
import { execFile } from 'node:child_process';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { DevConfig } from './entry';

export { buildDevPage, DEV_PAGE_DIR } from './build';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.jpg': 'image/jpeg',
  '.png': 'image/png',
};

/** A synthetic 3-second 320x180 clip at 23.976 fps for the fake timeline (ffmpeg's test pattern). */
export async function makeSampleClip(dir: string): Promise<DevConfig['sample']> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'ocean_shot.mp4');
  const ffmpeg = process.env.REATCO_FFMPEG ?? ffmpegInstaller.path;
  const frameCount = 72;
  await promisify(execFile)(ffmpeg, [
    ...['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=24000/1001'],
    ...['-frames:v', String(frameCount), '-c:v', 'libx264', '-pix_fmt', 'yuv420p', file],
  ]);
  return { path: file, frameRate: { num: 24000, den: 1001 }, frameCount };
}

export interface DevServerOptions {
  readonly root: string;
  readonly helperUrl: string;
  readonly config: DevConfig;
  readonly port?: number;
}

export interface DevServer {
  readonly url: string;
  close(): Promise<void>;
}

function sendFile(response: ServerResponse, file: string): void {
  if (!existsSync(file) || !statSync(file).isFile()) {
    response.writeHead(404).end('not found');
    return;
  }
  response.writeHead(200, { 'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
  createReadStream(file).pipe(response);
}

/** Pipes one page socket to a new helper connection (Node's client sends no Origin). */
function relay(page: WebSocket, helperUrl: string): void {
  const helper = new WebSocket(helperUrl);
  const early: string[] = [];
  const closeCode = (code: number) => (code >= 3000 && code <= 4999) || code === 1000 ? code : 1011;
  page.on('message', (data: RawData) => {
    const text = data.toString();
    if (helper.readyState === WebSocket.OPEN) helper.send(text);
    else early.push(text);
  });
  helper.on('open', () => early.splice(0).forEach((text) => helper.send(text)));
  helper.on('message', (data: RawData) => page.readyState === WebSocket.OPEN && page.send(data.toString()));
  helper.on('close', (code, reason) => page.readyState <= WebSocket.OPEN && page.close(closeCode(code), reason.toString()));
  helper.on('error', () => page.readyState <= WebSocket.OPEN && page.close(1011, 'helper unreachable'));
  page.on('close', () => helper.readyState <= WebSocket.OPEN && helper.close());
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const root = path.resolve(options.root);
  let origin = '';
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', origin);
    const pathname = decodeURIComponent(url.pathname);
    if (pathname === '/dev-config.json') {
      response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(options.config));
    } else if (pathname.startsWith('/previews/')) {
      sendFile(response, path.join(options.config.previewDir, path.basename(pathname)));
    } else {
      const file = path.resolve(root, `.${pathname === '/' ? '/index.html' : pathname}`);
      if (!file.startsWith(root + path.sep)) response.writeHead(403).end();
      else sendFile(response, file);
    }
  });
  const sockets = new WebSocketServer({ noServer: true });
  server.on('upgrade', (request, socket, head) => {
    const allowed = [origin, origin.replace('127.0.0.1', 'localhost')];
    if (new URL(request.url ?? '/', origin).pathname !== '/helper' || !allowed.includes(request.headers.origin ?? '')) {
      socket.destroy();
      return;
    }
    sockets.handleUpgrade(request, socket, head, (page) => relay(page, options.helperUrl));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}/`,
    close: async () => {
      for (const client of sockets.clients) client.terminate();
      await new Promise((resolve) => sockets.close(resolve));
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
