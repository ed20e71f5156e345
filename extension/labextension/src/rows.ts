/**
 * What the sidebar draws for each kind of thing: a job, a sweep with its
 * trials, a stored model with its versions, an endpoint with its try-it box,
 * and the empty state that says what to do. Pure DOM: the panel owns the
 * actions and passes them in.
 */
import { badge, button, el } from './dom';
import {
  FINAL_JOB_STATES,
  IHubMLEndpoint,
  IHubMLJob,
  IHubMLModel,
  IHubMLSweep,
  IHubMLTrial
} from './model';

export interface IJobActions {
  logs(id: string): void;
  cancel(job: IHubMLJob): void;
  deploy(job: IHubMLJob): void;
  tensorboard(id: string): void;
}

export interface IEndpointActions {
  undeploy(endpoint: IHubMLEndpoint): void;
  predict(endpoint: IHubMLEndpoint, tryIt: ITryIt): void;
}

/** A try-it box's text and last answer, kept across the panel's refreshes. */
export interface ITryIt {
  draft?: string;
  answer?: string;
}

/** A list's empty state: what there would be, and how to make the first one. */
export function empty(text: string): HTMLElement {
  return el('li', { class: 'hubml-empty' }, [text]);
}

export function number(value: unknown): string {
  return typeof value === 'number' ? String(Number(value.toPrecision(4))) : String(value ?? '-');
}

function metricsText(metrics: { [name: string]: unknown }): string {
  return Object.entries(metrics)
    .filter(([name]) => !['epoch', 'epochs'].includes(name))
    .map(([name, value]) => `${name} ${number(value)}`)
    .join(' · ');
}

export function jobRow(job: IHubMLJob, actions: IJobActions): HTMLElement {
  const buttons = [button('Logs', 'logs', () => actions.logs(job.id))];
  if (!FINAL_JOB_STATES.includes(job.state)) {
    buttons.push(button('Cancel', 'cancel', () => actions.cancel(job)));
  }
  if (job.model) {
    buttons.push(
      button('Deploy', 'deploy', () => actions.deploy(job),
        `Serve ${job.model.model} version ${job.model.version}`)
    );
  }
  buttons.push(button('TensorBoard', 'tensorboard', () => actions.tensorboard(job.id)));
  const row = el('li', { class: 'hubml-row hubml-job', 'data-id': job.id, title: job.reason }, [
    el('span', { class: 'hubml-name' }, [job.name]),
    el('code', { class: 'hubml-id' }, [job.id]),
    badge(job.state),
    el('div', { class: 'hubml-actions' }, buttons)
  ]);
  row.addEventListener('click', () => actions.logs(job.id));
  return row;
}

/** A sweep, its trials' jobs grouped under it, the best trial marked, final metrics side by side. */
export function sweepBlock(
  sweep: IHubMLSweep,
  jobs: Map<string, IHubMLJob>,
  actions: IJobActions
): HTMLElement {
  const finished = sweep.trials.filter(trial => !['PENDING', 'RUNNING'].includes(trial.state));
  const best = sweep.trials.find(trial => trial.number === sweep.best);
  const bestText = best
    ? ` · best ${sweep.spec.objective} ${best.objective?.toPrecision(4)} (trial ${best.number})`
    : '';
  const names = metricNames(sweep.trials);
  const header = el('tr', {}, [
    // The metrics first after the parameters: in a narrow sidebar they are what is compared, the state after.
    el('th', {}, ['']), el('th', {}, ['trial']), el('th', {}, ['parameters']),
    ...names.map(name => el('th', {}, [name])),
    el('th', {}, ['state'])
  ]);
  const rows = sweep.trials.map(trial => trialRow(trial, trial.number === sweep.best, names, jobs, actions));
  return el('li', { class: 'hubml-row hubml-sweep', 'data-id': sweep.id, title: sweep.reason }, [
    el('span', { class: 'hubml-name' }, [sweep.name]),
    el('code', { class: 'hubml-id' }, [sweep.id]),
    badge(sweep.state),
    el('div', { class: 'hubml-detail' }, [
      `${finished.length}/${sweep.trials.length} trials finished${bestText}`
    ]),
    el('table', { class: 'hubml-table hubml-trials' }, [header, ...rows])
  ]);
}

function metricNames(trials: IHubMLTrial[]): string[] {
  const names = new Set<string>();
  for (const trial of trials) {
    Object.keys(trial.metrics ?? {}).forEach(name => names.add(name));
  }
  return [...names].filter(name => !['epoch', 'epochs'].includes(name)).sort();
}

function trialRow(
  trial: IHubMLTrial,
  isBest: boolean,
  names: string[],
  jobs: Map<string, IHubMLJob>,
  actions: IJobActions
): HTMLElement {
  const params = Object.entries(trial.params).map(([key, value]) => `${key}=${number(value)}`).join(', ');
  const job = trial.job_id ? jobs.get(trial.job_id) : undefined;
  const row = el('tr', {
    class: `hubml-trial${isBest ? ' hubml-best' : ''}`,
    'data-trial': String(trial.number),
    title: trial.job_id ? `job ${trial.job_id}: click for its logs` : trial.reason
  }, [
    el('td', {}, [isBest ? '★' : '']),
    el('td', {}, [String(trial.number)]),
    el('td', {}, [params]),
    ...names.map(name => el('td', {}, [number(trial.metrics?.[name])])),
    el('td', {}, [badge(trial.state)])
  ]);
  if (job) {
    row.addEventListener('click', () => actions.logs(job.id));
  }
  return row;
}

/** A stored model and its versions: the job that produced each, its final metrics, the endpoints serving it. */
export function modelBlock(model: IHubMLModel, logs: (id: string) => void): HTMLElement {
  const versions = model.versions.map(version => {
    const job = version.job
      ? el('a', { class: 'hubml-link', href: '#', title: 'the job that exported it: its logs' }, [version.job])
      : el('span', { class: 'hubml-muted' }, ['copied in (no job)']);
    if (version.job) {
      job.addEventListener('click', event => {
        event.preventDefault();
        logs(version.job as string);
      });
    }
    return el('tr', { class: 'hubml-version', 'data-version': String(version.version) }, [
      el('td', {}, [`v${version.version}`]),
      el('td', {}, [job]),
      el('td', {}, [metricsText(version.metrics) || '-']),
      el('td', {}, [version.endpoints.join(', ') || '-'])
    ]);
  });
  return el('li', { class: 'hubml-row hubml-model', 'data-id': model.name, title: model.uri }, [
    el('span', { class: 'hubml-name' }, [model.name]),
    el('span', { class: 'hubml-muted' }, [`${model.versions.length} version(s)`]),
    el('table', { class: 'hubml-table hubml-versions' }, [
      el('tr', {}, [el('th', {}, ['version']), el('th', {}, ['job']), el('th', {}, ['final metrics']),
        el('th', {}, ['endpoints'])]),
      ...versions
    ])
  ]);
}

/** An endpoint: state, versions, traffic, its address for this browser, and a try-it box. */
export function endpointRow(
  endpoint: IHubMLEndpoint,
  actions: IEndpointActions,
  tryIt: ITryIt
): HTMLElement {
  const versions = endpoint.versions.join(', ') || 'none yet';
  const traffic = endpoint.traffic
    ? `${endpoint.traffic.requests} request(s), ${endpoint.traffic.errors} failed` +
      (endpoint.traffic.mean_latency_ms !== null ? `, mean ${endpoint.traffic.mean_latency_ms} ms` : '')
    : 'no traffic yet';
  const children: Array<Node | string> = [
    el('span', { class: 'hubml-name' }, [endpoint.name]),
    badge(endpoint.state),
    el('div', { class: 'hubml-detail' }, [`${endpoint.model} · versions ${versions} · ${traffic}`])
  ];
  if (endpoint.browser_url) {
    children.push(el('div', { class: 'hubml-detail' }, [
      el('code', { class: 'hubml-address', title: 'POST TF Serving predict JSON here' }, [endpoint.browser_url])
    ]));
  }
  if (endpoint.state === 'READY') {
    const request = el('textarea', { class: 'hubml-request', rows: '2', spellcheck: 'false' }) as HTMLTextAreaElement;
    request.value = tryIt.draft ?? JSON.stringify(endpoint.example ?? { instances: [] });
    request.addEventListener('input', () => {
      tryIt.draft = request.value;
    });
    tryIt.draft = request.value;
    children.push(el('div', { class: 'hubml-tryit' }, [
      request,
      button('Predict', 'predict', () => actions.predict(endpoint, tryIt), 'Send this request to the model'),
      el('pre', { class: 'hubml-answer' }, [tryIt.answer ?? ''])
    ]));
  }
  children.push(el('div', { class: 'hubml-actions' }, [
    button('Undeploy', 'undeploy', () => actions.undeploy(endpoint))
  ]));
  return el('li', { class: 'hubml-row hubml-endpoint', 'data-id': endpoint.name, title: endpoint.reason },
    children);
}
