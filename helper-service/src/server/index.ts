/** The helper service: WebSocket server, jobs, journal. */
export { startHelper, type HelperOptions, type RunningHelper } from './server';
export { defaultConfigDir, loadConfig } from './config';
