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

/** An endpoint, as `Endpoint.to_json()`. */
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
}

/** A sweep, as `Sweep.to_json()`. */
export interface IHubMLSweep {
  id: string;
  name: string;
  state: string;
  objective?: string;
  best?: { [key: string]: unknown } | null;
  trials?: Array<{ [key: string]: unknown }>;
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

export const FINAL_JOB_STATES = ['SUCCEEDED', 'FAILED', 'CANCELLED'];
