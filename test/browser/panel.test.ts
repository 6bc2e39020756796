/**
 * The panel in headless Chromium (Debian's, driven by playwright-core; no browser is downloaded) on
 * the fake host, with a REAL helper on a free port running the embedded tiny model: pair, select the
 * clip, type prompts, pick the object word, draw a box, add a second keyframe on another frame, run,
 * watch progress, place on the timeline, check it, undo, check the original is back. A screenshot per
 * stage goes to test/output/browser/.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startHelper } from '@reatco/helper-service/server';
import { buildDevPage, makeSampleClip, startDevServer, type DevServer } from '@reatco/plugin/dev-server';

const CHROMIUM = '/usr/bin/chromium';
const REPO = path.resolve(__dirname, '../../..');
const SHOTS = path.join(REPO, 'test/output/browser');
const PROMPT = 'a jellyfish and a goldfish swimming in the blue ocean';

type RunningHelper = Awaited<ReturnType<typeof startHelper>>;

/** What the dev page exposes on window (plain data only crosses into the test). */
interface DevWindow {
  reatcoDev: {
    fake: {
      timeline(): { id: string; projectItemId: string; name: string; start: bigint; end: bigint; inPoint: bigint; outPoint: bigint; disabled: boolean }[][];
      undoLabels: readonly string[];
    };
    panel: {
      store: {
        state: {
          tokens: { position: number; text: string; wordStart: boolean }[];
          regions: { word: string; source: { kind: string; keyframes?: { frame: number; box: number[] }[] } }[];
          job: { status: string } | null;
        };
      };
    };
  };
}

/** The fake timeline with ticks as strings (comparable, and serialisable out of the page). */
async function timeline(page: Page) {
  return page.evaluate(() =>
    (window as unknown as DevWindow).reatcoDev.fake
      .timeline()
      .map((track) => track.map((item) => ({ ...item, start: String(item.start), end: String(item.end), inPoint: String(item.inPoint), outPoint: String(item.outPoint) }))),
  );
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

describe('panel in a browser with the fake host and a real helper', () => {
  let work: string;
  let helper: RunningHelper;
  let server: DevServer;
  let browser: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (CI's .ci/run does).`);
    mkdirSync(SHOTS, { recursive: true });
    work = mkdtempSync(path.join(os.tmpdir(), 'reatco-browser-'));
    const previewDir = path.join(work, 'previews');
    mkdirSync(previewDir);
    const [root, sample, started] = await Promise.all([
      buildDevPage(),
      makeSampleClip(path.join(work, 'media')),
      startHelper({
        port: 0,
        configDir: path.join(work, 'helper'),
        outputDir: path.join(work, 'output'),
        modelDir: path.join(REPO, 'models/tiny-random'),
        provider: 'cpu',
        log: () => undefined,
      }),
    ]);
    helper = started;
    server = await startDevServer({ root, helperUrl: helper.url, config: { previewDir, sample } });
    // A fresh profile per run (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(path.join(work, 'chromium-profile'), {
      executablePath: CHROMIUM,
      viewport: { width: 1180, height: 1500 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(server.url);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await helper?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('edit a clip from selection to undo', async () => {
    // 1. Not paired yet: the panel says how to start and pair the helper.
    await page.locator('[data-test=token]').waitFor();
    await page.getByText('npx reatco serve').first().waitFor();
    await shot(page, '01-not-paired');

    // 2. Pair with the token the helper printed.
    await page.locator('[data-test=token] input').fill(helper.token);
    await page.locator('[data-test=pair]').click();
    await page.getByText(/Connected to helper .* model tiny-random/).waitFor();

    // 3. Select the clip in the fake timeline: the panel follows the selection.
    const before = await timeline(page);
    const original = before[0]![1]!;
    await page.locator(`[data-test=clip-${original.id}]`).click();
    await page.locator('[data-test=clip-name]', { hasText: 'ocean_shot.mp4' }).waitFor();
    await page.locator('[data-test=frame][src*="previews"]').waitFor();
    await shot(page, '02-clip-selected');

    // 4. Prompts; the edited prompt comes back as token chips.
    await page.locator('[data-test=source-prompt] input').fill('a colour test pattern');
    await page.locator('[data-test=prompt] textarea').fill(PROMPT);
    await page.locator('[data-test=chips] .chip').first().waitFor();
    const wordStart = await page.evaluate(() => {
      const tokens = (window as unknown as DevWindow).reatcoDev.panel.store.state.tokens;
      const words: { position: number; text: string }[] = [];
      for (const t of tokens) {
        if (t.wordStart || words.length === 0) words.push({ position: t.position, text: t.text });
        else words[words.length - 1]!.text += t.text;
      }
      return words.find((w) => w.text === 'jellyfish')?.position ?? null;
    });
    expect(wordStart).not.toBeNull();
    await page.locator(`[data-test=chip-${wordStart}]`).click();
    await page.locator('[data-test=region-jellyfish]').waitFor();
    await shot(page, '03-word-picked');

    // 5. Draw a box on the first frame.
    const stage = (await page.locator('[data-test=stage]').boundingBox())!;
    await page.mouse.move(stage.x + stage.width * 0.2, stage.y + stage.height * 0.25);
    await page.mouse.down();
    await page.mouse.move(stage.x + stage.width * 0.35, stage.y + stage.height * 0.45, { steps: 4 });
    await page.mouse.move(stage.x + stage.width * 0.5, stage.y + stage.height * 0.65, { steps: 4 });
    await page.mouse.up();
    await page.locator('[data-test=keyframes] .chip').first().waitFor();
    await shot(page, '04-box-drawn');

    // 6. Scrub to frame 13 and move the box there: a second keyframe.
    await page.locator('[data-test=scrub] input').evaluate((input: HTMLInputElement) => {
      input.value = '12';
      input.dispatchEvent(new Event('input', { bubbles: true }));
      input.dispatchEvent(new Event('change', { bubbles: true }));
    });
    await page.locator('[data-test=frame-label]', { hasText: /^Frame 13 of 24 · 01:00:01:00$/ }).waitFor();
    await page.locator('[data-test=frame][src*="-f24-"]').waitFor();
    const box = (await page.locator('.box.active').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + stage.width * 0.25, box.y + box.height / 2 - stage.height * 0.1, { steps: 6 });
    await page.mouse.up();
    await page.locator('[data-test=keyframes] .chip').nth(1).waitFor();
    const keyframes = await page.evaluate(() => (window as unknown as DevWindow).reatcoDev.panel.store.state.regions[0]!.source.keyframes!);
    expect(keyframes.map((k) => k.frame)).toEqual([0, 12]);
    const [first, second] = keyframes;
    expect(second!.box[0]).toBeGreaterThan(first!.box[0]!); // moved right, in clip pixels
    expect(second!.box[2]! - second!.box[0]!).toBe(first!.box[2]! - first!.box[0]!); // same size
    for (const k of keyframes) expect(Math.max(...k.box)).toBeLessThanOrEqual(320);
    await shot(page, '05-second-keyframe');

    // 7. Draft quality, 3 steps; run and record every value the progress bar shows.
    await page.locator('[data-test=quality] select').selectOption('draft');
    await page.locator('[data-test=steps] input').fill('3');
    await page.evaluate(() => {
      const bar = document.querySelector('[data-test=progress]')!;
      const seen: string[] = [];
      (window as unknown as { progressSeen: string[] }).progressSeen = seen;
      new MutationObserver(() => seen.push(bar.getAttribute('value') ?? '')).observe(bar, { attributes: true, attributeFilter: ['value'] });
    });
    await page.locator('[data-test=run]').click();
    await page.locator('[data-test=progress-text]', { hasText: /%/ }).waitFor({ timeout: 60_000 });
    await shot(page, '06-running');
    await page.locator('[data-test=result]').waitFor({ state: 'visible', timeout: 90_000 });
    await page.locator('[data-test=after][src*="previews"]').waitFor();
    const progress = await page.evaluate(() => (window as unknown as { progressSeen: string[] }).progressSeen.map(Number));
    expect(new Set(progress).size).toBeGreaterThanOrEqual(3);
    expect(progress[progress.length - 1]).toBe(100);
    await shot(page, '07-done');

    // 8. Place on the timeline (A/B): the new clip on V2 over the same span, the original disabled.
    await page.locator('[data-test=place]').click();
    await page.locator('[data-test=placement]', { hasText: 'Placed on V2' }).waitFor();
    const placed = await timeline(page);
    const onV2 = placed[1]!.find((item) => item.start === original.start)!;
    expect(onV2).toBeDefined();
    expect(onV2.end).toBe(original.end);
    expect(onV2.name).toMatch(/\.mov$/);
    expect(placed[0]!.find((item) => item.id === original.id)).toMatchObject({ disabled: true, start: original.start, end: original.end });
    await shot(page, '08-placed');

    // 9. One undo restores the original timeline exactly.
    await page.locator('[data-test=undo]').click();
    expect(await timeline(page)).toEqual(before);
    await shot(page, '09-undone');
    expect(pageErrors).toEqual([]);
  }, 180_000);
});
