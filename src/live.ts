/**
 * What a configuration reload replaces, swapped as one step: the runtime (routes, body
 * readers, identity, upstream agent) and the directory, and the engine reconfigured for
 * them. Requests keep the runtime they started with; retired parts close after a grace
 * period (30 s), when requests in flight have finished with them.
 */
import type { GatewayConfig } from './config/index.js';
import type { Directory } from './directory/index.js';
import { buildRuntime, engineOptions } from './gatewayParts.js';
import type { Runtime } from './http/runtime.js';
import type { PrivacyEngine } from './privacy/engine.js';

const GRACE_MS = 30_000;

export class Live {
  private readonly retired = new Set<Directory>();

  constructor(
    public runtime: Runtime,
    public directory: Directory,
    private readonly makeDirectory: (config: GatewayConfig) => Directory,
  ) {}

  get config(): GatewayConfig {
    return this.runtime.config;
  }

  /** Builds everything new before swapping anything; a failure leaves the old configuration in force. */
  async reload(config: GatewayConfig, engine: PrivacyEngine): Promise<Runtime> {
    // an unchanged directory keeps its caches and connections
    const same = JSON.stringify(config.directory) === JSON.stringify(this.config.directory);
    const directory = same ? this.directory : this.makeDirectory(config);
    let next: Runtime;
    try {
      next = await buildRuntime(config, this.runtime);
    } catch (err) {
      if (directory !== this.directory) directory.close();
      throw err;
    }
    const old = this.runtime;
    this.runtime = next;
    this.swapDirectory(directory);
    engine.reconfigure(engineOptions(config, directory));
    if (old.identity && old.identity !== next.identity) old.identity.close();
    if (old.agent !== next.agent) setTimeout(() => old.agent.destroy(), GRACE_MS).unref();
    const oldPool = old.pool;
    if (oldPool && oldPool !== next.pool) setTimeout(() => void oldPool.destroy(), GRACE_MS).unref();
    return old;
  }

  private swapDirectory(next: Directory): void {
    const old = this.directory;
    if (old === next) return;
    this.directory = next;
    // requests in flight finish their lookups on the old directory
    this.retired.add(old);
    setTimeout(() => {
      old.close();
      this.retired.delete(old);
    }, GRACE_MS).unref();
  }

  close(): void {
    this.runtime.agent.destroy();
    void this.runtime.pool?.destroy();
    this.runtime.identity?.close();
    this.directory.close();
    for (const d of this.retired) d.close();
  }
}
