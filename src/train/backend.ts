/** The backend a run config asks for: what the CLI, the notebooks and every training call start with. */
import { initBackend, type BackendInfo } from '../backend/init.js';
import type { MsdConfig } from '../config.js';

/** Initialises the backend the config asks for (`run.backend`, '' = automatic; see initBackend). */
export function backendFor(cfg: MsdConfig): Promise<BackendInfo> {
  return initBackend(cfg.run.backend ? { prefer: cfg.run.backend } : {});
}
