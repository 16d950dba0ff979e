/**
 * @module models/model-manager
 * Owns the model repository's state: which models and versions are loading, ready or
 * unavailable, and why; loads them as their configs say (onnxruntime models and ensembles),
 * resolves a request's model and version with Triton's errors, and drives load/unload.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelConfig } from '../../../proto/gen/model_config.js';
import {
  loadModelConfig,
  normaliseModelConfig,
  validateEnsembleAgainst,
  validateModelConfig,
} from '../config/index.js';
import { InferenceServerError, internal, invalidArgument, notFound, unavailable } from '../errors.js';
import { listModelNames, listVersionDirs, modelFilePath, selectVersions } from '../repository/index.js';
import { createEnsembleModel } from './ensemble-model.js';
import { parseModelVersion } from './model-version.js';
import { loadOnnxModel, readLabels } from './onnx-model.js';
import type { ServedModel } from './served-model.js';

export type VersionState = 'LOADING' | 'READY' | 'UNAVAILABLE' | 'UNLOADING';

interface VersionEntry {
  state: VersionState;
  reason: string;
  model?: ServedModel;
}

interface ModelEntry {
  config?: ModelConfig;
  versions: Map<number, VersionEntry>;
  /** Why the model as a whole failed to load (bad config, no versions), if it did. */
  failure?: string;
  /** Unloaded on purpose: ignored by server readiness, as in Triton. */
  unloaded: boolean;
  /**
   * An ensemble unloaded because a model it runs was unloaded (without unload_dependents): as
   * in Triton's dependency graph, it loads again once that model does.
   */
  awaitingDependency?: boolean;
  /**
   * Named by a load request or the start-up list, rather than loaded only because an ensemble
   * runs it: as in Triton, unload_dependents leaves such models loaded.
   */
  explicit?: boolean;
  /** Newest modification time under the model directory when it was loaded from it (ns). */
  loadedMtimeNs?: bigint;
}

export interface ModelManagerOptions {
  readonly repository: string;
  readonly configName?: string;
  readonly controlMode: 'none' | 'explicit';
  /** Explicit mode: models to load at start (`*` = all). */
  readonly startupModels: readonly string[];
  readonly cores?: number;
  readonly log: (level: 'info' | 'warn' | 'error', message: string) => void;
}

export interface IndexEntry {
  readonly name: string;
  readonly version: string;
  readonly state: string;
  readonly reason: string;
}

const ENSEMBLE = 'ensemble';

export class ModelManager {
  private readonly models = new Map<string, ModelEntry>();
  /** One load or unload per model at a time, so states never interleave. */
  private readonly locks = new Map<string, Promise<void>>();
  /** Ensembles whose composing models are being loaded; meeting one again is a cycle. */
  private readonly resolvingEnsembles = new Set<string>();

  constructor(private readonly options: ModelManagerOptions) {}

  get controlMode(): 'none' | 'explicit' {
    return this.options.controlMode;
  }

  /** Names of models with at least one loaded version. */
  loadedModelNames(): string[] {
    return [...this.models.keys()].filter((n) => this.loadedVersions(n).length > 0).sort();
  }

  /** Loaded (READY) versions of a model, lowest first. */
  loadedVersions(name: string): ServedModel[] {
    const entry = this.models.get(name);
    if (!entry) return [];
    return [...entry.versions.values()].flatMap((v) => (v.state === 'READY' && v.model ? [v.model] : [])).sort((a, b) => a.version - b.version);
  }

  /** Version numbers that are READY, lowest first. */
  readyVersions(name: string): number[] {
    return this.loadedVersions(name).map((m) => m.version);
  }

  /** Loads the models the control mode asks for at start-up; failures leave others serving. */
  async start(): Promise<void> {
    const all = await listModelNames(this.options.repository);
    const wanted =
      this.options.controlMode === 'none' || this.options.startupModels.includes('*') ? all : [...this.options.startupModels];
    // Non-ensembles first (in parallel), then ensembles, which need their composing models.
    const isEnsemble = new Map<string, boolean>();
    for (const name of wanted) isEnsemble.set(name, (await this.readConfig(name).catch(() => undefined))?.platform === ENSEMBLE);
    await Promise.all(wanted.filter((n) => !isEnsemble.get(n)).map((n) => this.load(n).catch(() => {})));
    for (const n of wanted.filter((n) => isEnsemble.get(n))) await this.load(n).catch(() => {});
  }

  /** Strict readiness: every model not deliberately unloaded has all its versions READY. */
  isReady(): boolean {
    for (const entry of this.models.values()) {
      if (entry.unloaded) continue;
      if (entry.failure !== undefined || entry.versions.size === 0) return false;
      for (const v of entry.versions.values()) if (v.state !== 'READY') return false;
    }
    return true;
  }

  /**
   * The ready model for a request; `version` "" means the highest ready version. Errors are
   * Triton's: the version string is read first (std::stol), then the model, then the version.
   */
  resolve(name: string, version: string): ServedModel {
    const wanted = parseModelVersion(version);
    const entry = this.models.get(name);
    if (!entry) throw notFound(`Request for unknown model: '${name}' is not found`);
    if (wanted < 0n) {
      const ready = [...entry.versions.entries()].filter(([, v]) => v.state === 'READY' && v.model).sort(([a], [b]) => b - a);
      if (ready.length === 0) throw notFound(`Request for unknown model: '${name}' has no available versions`);
      return ready[0]![1].model!;
    }
    const v = wanted <= BigInt(Number.MAX_SAFE_INTEGER) ? entry.versions.get(Number(wanted)) : undefined;
    if (!v) throw notFound(`Request for unknown model: '${name}' version ${wanted} is not found`);
    if (v.state !== 'READY' || !v.model) throw unavailable(`Request for unknown model: '${name}' version ${wanted} is not at ready state`);
    return v.model;
  }

  /**
   * ModelReady: as Triton 2.51 answers it, false (not an error) for an unknown model or version,
   * or one that is not ready; only a version string std::stol rejects is an error.
   */
  isModelReady(name: string, version: string): boolean {
    parseModelVersion(version);
    try {
      this.resolve(name, version);
      return true;
    } catch (err) {
      if (err instanceof InferenceServerError) return false;
      throw err;
    }
  }

  /** Config of a loaded model (any state), for ModelConfig/ModelMetadata on failing versions. */
  configOf(name: string): ModelConfig | undefined {
    return this.models.get(name)?.config;
  }

  /** RepositoryIndex: every model directory; loaded ones with one entry per version. */
  async index(readyOnly: boolean): Promise<IndexEntry[]> {
    const names = new Set([...(await listModelNames(this.options.repository)), ...this.models.keys()]);
    const out: IndexEntry[] = [];
    for (const name of [...names].sort()) {
      const entry = this.models.get(name);
      if (!entry || entry.versions.size === 0) {
        if (readyOnly) continue;
        const failure = entry?.failure;
        out.push({ name, version: '', state: failure !== undefined ? 'UNAVAILABLE' : '', reason: failure ?? '' });
        continue;
      }
      for (const [version, v] of [...entry.versions.entries()].sort(([a], [b]) => a - b)) {
        if (readyOnly && v.state !== 'READY') continue;
        out.push({ name, version: String(version), state: v.state, reason: v.reason });
      }
    }
    return out;
  }

  /**
   * Loads (or reloads) a model. `override` is a JSON ModelConfig that replaces config.pbtxt, as
   * RepositoryModelLoad's `config` parameter does. Loading an ensemble loads its composing models.
   */
  load(name: string, override?: string): Promise<void> {
    return this.loadAs(name, override, true);
  }

  /** `explicit`: named by the request, not loaded only because an ensemble runs it. */
  private async loadAs(name: string, override: string | undefined, explicit: boolean): Promise<void> {
    await this.exclusive(name, () => this.loadNow(name, override));
    const entry = this.models.get(name);
    if (entry) entry.explicit = explicit;
    await this.resumeDependents(name);
  }

  /** Loads again the ensembles that were unloaded with `name` once all their models are ready. */
  private async resumeDependents(name: string): Promise<void> {
    for (const [other, e] of this.models) {
      const steps = e.config?.ensembleScheduling?.step ?? [];
      if (!e.awaitingDependency || this.resolvingEnsembles.has(other) || !steps.some((s) => s.modelName === name)) continue;
      if (!steps.every((s) => this.readyVersions(s.modelName).length > 0)) continue;
      e.awaitingDependency = false;
      await this.loadAs(other, undefined, e.explicit ?? false).catch(() => {});
    }
  }

  /**
   * Unloads every version of a model (draining queued requests), as Triton's dependency graph
   * does (model_repository_manager.cc): unloading a model that is not loaded succeeds; the
   * ensembles that run it are unloaded too and load again once it does. `unloadDependents`
   * (for an ensemble) also unloads its composing models that no request named and that no other
   * loaded ensemble runs.
   */
  unload(name: string, unloadDependents = false): Promise<void> {
    return this.exclusive(name, async () => {
      const entry = this.models.get(name);
      if (!entry || entry.unloaded) return;
      await this.unloadVersions(entry);
      entry.unloaded = true;
      entry.awaitingDependency = false;
      this.options.log('info', `model '${name}' unloaded`);
      for (const [other, e] of this.models) {
        if (e.unloaded || !e.config?.ensembleScheduling?.step.some((s) => s.modelName === name)) continue;
        await this.unload(other);
        e.awaitingDependency = true;
      }
      if (!unloadDependents) return;
      for (const step of entry.config?.ensembleScheduling?.step ?? []) {
        const dep = this.models.get(step.modelName);
        if (!dep || dep.unloaded || dep.explicit) continue;
        const stillUsed = [...this.models.values()].some(
          (e) => e !== entry && !e.unloaded && e.config?.ensembleScheduling?.step.some((s) => s.modelName === step.modelName),
        );
        if (!stillUsed) await this.unload(step.modelName, true);
      }
    });
  }

  /** Unloads everything, letting in-flight and queued requests finish. */
  async stop(): Promise<void> {
    await Promise.all([...this.models.keys()].map((n) => this.exclusive(n, () => this.unloadVersions(this.models.get(n)!))));
  }

  private async exclusive(name: string, work: () => Promise<void>): Promise<void> {
    const previous = this.locks.get(name) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(work);
    this.locks.set(name, next.catch(() => {}));
    return next;
  }

  private async readConfig(name: string, override?: string): Promise<ModelConfig> {
    const modelDir = join(this.options.repository, name);
    let raw: ModelConfig;
    let file = join(modelDir, 'config.pbtxt');
    if (override !== undefined) {
      try {
        raw = ModelConfig.fromJSON(JSON.parse(override));
      } catch (err) {
        // Triton answers only this (INTERNAL); why goes to the log.
        this.options.log('error', `failed to load '${name}': 'config' parameter is not a JSON ModelConfig: ${(err as Error).message}`);
        throw internal(`failed to load '${name}', failed to poll from model repository`);
      }
    } else {
      ({ config: raw, file } = await loadModelConfig(modelDir, { configName: this.options.configName }));
    }
    const config = normaliseModelConfig(raw, name, 0, { file });
    validateModelConfig(config, file);
    return config;
  }

  private async loadNow(name: string, override?: string): Promise<void> {
    const modelDir = join(this.options.repository, name);
    const known = await listModelNames(this.options.repository);
    if (!known.includes(name)) {
      throw internal(`failed to load '${name}', failed to poll from model repository`);
    }
    const entry: ModelEntry = this.models.get(name) ?? { versions: new Map(), unloaded: false };
    this.models.set(name, entry);
    entry.awaitingDependency = false;
    // Triton reloads a loaded model only when a file under its directory changed since it was
    // loaded, or a config comes with the request; otherwise the load succeeds as it is.
    const mtimeNs = await newestMtimeNs(modelDir);
    const ready = !entry.unloaded && [...entry.versions.values()].some((v) => v.state === 'READY');
    if (override === undefined && ready && entry.loadedMtimeNs === mtimeNs) return;
    // Triton (model_management.md, explicit mode): a reload that fails leaves the loaded model
    // unchanged, and one that succeeds replaces it without a gap in availability.
    const serving = [...entry.versions.values()].some((v) => v.state === 'READY');
    let config: ModelConfig;
    try {
      config = await this.readConfig(name, override);
      if (config.platform === ENSEMBLE) {
        this.resolvingEnsembles.add(name);
        try {
          for (const step of config.ensembleScheduling!.step) {
            const dep = this.models.get(step.modelName);
            if (dep && !dep.unloaded && [...dep.versions.values()].some((v) => v.state === 'READY')) continue;
            // Models missing from the repository are listed together by validateEnsembleAgainst.
            if (!known.includes(step.modelName)) continue;
            // Loading it would wait on a lock held further up this chain, forever.
            if (this.resolvingEnsembles.has(step.modelName)) {
              throw new Error(`ensemble '${name}' has a circular dependency on '${step.modelName}'`);
            }
            await this.loadAs(step.modelName, undefined, false).catch((err: Error) => {
              throw new Error(
                `ensemble '${name}' depends on '${step.modelName}' which has no loaded version. ` +
                  `Model '${step.modelName}' loading failed with error: ${err.message}`,
              );
            });
          }
        } finally {
          this.resolvingEnsembles.delete(name);
        }
        validateEnsembleAgainst(config, (n) => this.models.get(n)?.config);
      } else if (config.backend !== 'onnxruntime') {
        throw new Error(`unsupported backend '${config.backend || config.platform}': this server runs onnxruntime models and ensembles`);
      }
      if (selectVersions(config.versionPolicy, await listVersionDirs(modelDir)).length === 0) {
        throw new Error(`at least one version must be available under the version policy of model '${name}'`);
      }
    } catch (err) {
      const reason = (err as Error).message;
      if (!serving) {
        await this.unloadVersions(entry);
        entry.versions.clear();
        entry.failure = reason;
        entry.unloaded = false;
      }
      this.options.log('error', `failed to load '${name}': ${reason}`);
      throw err instanceof InferenceServerError ? err : invalidArgument(`failed to load '${name}': ${reason}`);
    }

    const versions = selectVersions(config.versionPolicy, await listVersionDirs(modelDir));
    const previous = entry.versions;
    const next = new Map<number, VersionEntry>(versions.map((v) => [v, { state: 'LOADING', reason: '' }]));
    const swapIn = () => {
      entry.versions = next;
      entry.config = config;
      entry.failure = undefined;
      entry.unloaded = false;
    };
    // A first load shows its versions LOADING; a reload keeps the old ones serving meanwhile.
    if (!serving) swapIn();
    await Promise.all(
      versions.map(async (version) => {
        const slot = next.get(version)!;
        try {
          slot.model =
            config.platform === ENSEMBLE
              ? createEnsembleModel(config, version, await readLabels(config, modelDir), (n, v) => this.resolve(n, v < 0 ? '' : String(v)))
              : await loadOnnxModel(config, modelDir, await modelFilePath(modelDir, version, config.defaultModelFilename), version, {
                  cores: this.options.cores,
                  warn: (m) => this.options.log('warn', m),
                });
          slot.state = 'READY';
          this.options.log('info', `successfully loaded '${name}' version ${version}`);
        } catch (err) {
          slot.state = 'UNAVAILABLE';
          slot.reason = (err as Error).message;
          this.options.log('error', `failed to load '${name}' version ${version}: ${slot.reason}`);
        }
      }),
    );
    const failed = [...next.values()].find((v) => v.state !== 'READY');
    if (failed && serving) {
      await Promise.all([...next.values()].map((v) => v.model?.unload()));
      throw invalidArgument(`failed to load '${name}': ${failed.reason}`);
    }
    // A reload swaps in the new versions before the old ones drain and close.
    swapIn();
    // A version that failed makes the next load try again, as Triton reverts the timestamp.
    entry.loadedMtimeNs = failed ? undefined : mtimeNs;
    await Promise.all([...previous.values()].map((v) => v.model?.unload()));
    if (failed) throw invalidArgument(`failed to load '${name}': ${failed.reason}`);
  }

  /** Drains and frees every version; they stay listed as UNAVAILABLE, 'unloaded'. */
  private async unloadVersions(entry: ModelEntry): Promise<void> {
    const versions = [...entry.versions.values()];
    for (const v of versions) if (v.state === 'READY') v.state = 'UNLOADING';
    await Promise.all(versions.map((v) => v.model?.unload()));
    for (const v of versions) {
      v.state = 'UNAVAILABLE';
      v.reason = 'unloaded';
      v.model = undefined;
    }
  }
}

/** The newest modification time of `dir` and everything under it, in nanoseconds. */
async function newestMtimeNs(dir: string): Promise<bigint> {
  let newest = (await stat(dir, { bigint: true })).mtimeNs;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    const t = e.isDirectory() ? await newestMtimeNs(path) : (await stat(path, { bigint: true })).mtimeNs;
    if (t > newest) newest = t;
  }
  return newest;
}
