/**
 * The JSON the server extension answers with: one interface per dict that
 * `hubml.extension.server.manager.HubMLManager` returns (keys match exactly).
 */

/** A job, as `Job.to_json()` (plus `metrics` when described one by one). */
export interface IHubMLJob {
  id: string;
  name: string;
  user: string;
  backend: string;
  spec: { [key: string]: unknown };
  state: 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
  reason: string;
  exit_code: number | null;
  attempt: number;
  submitted_at: number;
  started_at: number | null;
  finished_at: number | null;
  duration: number | null;
  /** The SavedModel the job exported, once it has. */
  model: { model: string; version: number; uri: string } | null;
  metrics?: Array<{ [key: string]: number | null }>;
}

/** Requests an endpoint's server counted for its model (its Prometheus metrics). */
export interface IHubMLTraffic {
  requests: number;
  errors: number;
  mean_latency_ms: number | null;
}

/** TF Serving's REST predict body. */
export interface IHubMLPredictBody {
  instances?: unknown[];
  inputs?: unknown;
  signature_name?: string;
}

/** An endpoint, as `Endpoint.to_json()`, plus what the sidebar shows once it serves. */
export interface IHubMLEndpoint {
  name: string;
  model: string;
  model_uri: string;
  version: number | null;
  versions: number[];
  state: 'PENDING' | 'READY' | 'FAILED';
  reason: string;
  rest_url: string;
  grpc_target: string;
  replicas: number;
  batching: boolean;
  created_at: number;
  backend: string;
  traffic: IHubMLTraffic | null;
  /** A request built from the model's signature: it works as given. */
  example: IHubMLPredictBody | null;
  /** The predict URL as this browser reaches it (through the server's proxy where there is one). */
  browser_url: string | null;
}

/** One version of a stored model: the lineage from job to endpoint. */
export interface IHubMLModelVersion {
  version: number;
  uri: string;
  job: string | null;
  created_at: number | null;
  metrics: { [name: string]: number | null };
  endpoints: string[];
}

/** A model in storage, as `hubml.registry`'s `models()` lists it. */
export interface IHubMLModel {
  name: string;
  uri: string;
  versions: IHubMLModelVersion[];
}

export interface IHubMLModels {
  models: IHubMLModel[];
}

/** One trial of a sweep. */
export interface IHubMLTrial {
  number: number;
  params: { [name: string]: unknown };
  job_id: string | null;
  state: string;
  objective: number | null;
  /** [[step, objective], ...] as the trial reported it. */
  curve: number[][];
  reason: string;
  started_at: number | null;
  finished_at: number | null;
  step: number | null;
  duration: number | null;
  /** Its job's last report. */
  metrics: { [name: string]: number | null };
}

/** A sweep, as `Sweep.to_json()`. */
export interface IHubMLSweep {
  id: string;
  name: string;
  user: string;
  spec: { objective: string; direction: 'maximize' | 'minimize'; [key: string]: unknown };
  state: 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
  reason: string;
  submitted_at: number;
  started_at: number | null;
  finished_at: number | null;
  driver_pid: number | null;
  trials: IHubMLTrial[];
  duration: number | null;
  /** The number of the best succeeded trial, or null. */
  best: number | null;
}

export interface IHubMLLogLine {
  attempt: number;
  role: string;
  index: number;
  text: string;
}

/** One page of `GET jobs/{id}/logs`; pass `cursor` back for the next one. */
export interface IHubMLLogPage {
  lines: IHubMLLogLine[];
  cursor: { [key: string]: unknown };
  final: boolean;
  more: boolean;
}

export interface IHubMLJobs {
  jobs: IHubMLJob[];
}

export interface IHubMLEndpoints {
  endpoints: IHubMLEndpoint[];
}

export interface IHubMLSweeps {
  sweeps: IHubMLSweep[];
}

/** One resource of `GET quota`: amounts in cores, bytes or counts. */
export interface IHubMLQuotaRow {
  resource: string;
  used: number;
  limit: number;
  source: string;
  /** Local backend: how many queued jobs need more of it than is free. */
  waiting?: number;
}

export interface IHubMLQuota {
  resources: IHubMLQuotaRow[];
  /** Queued jobs counted by what they wait for, e.g. {"waiting for cpu": 1}. */
  queued: { [why: string]: number };
}

export const FINAL_JOB_STATES = ['SUCCEEDED', 'FAILED', 'CANCELLED'];
