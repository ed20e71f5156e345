/**
 * The left-sidebar panel, a console over the user's work: resources used
 * against capacity (or quota) and the queue; jobs (trials grouped
 * under their sweep, the best marked, final metrics compared), the models in
 * storage with each version's lineage, and endpoints with their traffic and a
 * try-it box. Refreshed by a Lumino `Poll` (every 5 s, backing off to 60 s
 * while the server fails, on standby while the panel or the tab is hidden).
 */
import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { Poll } from '@lumino/polling';
import { CommandRegistry } from '@lumino/commands';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { postJSON, requestAPI } from './api';
import { button, el } from './dom';
import {
  IHubMLEndpoint,
  IHubMLEndpoints,
  IHubMLJob,
  IHubMLJobs,
  IHubMLModels,
  IHubMLQuota,
  IHubMLQuotaRow,
  IHubMLSweeps
} from './model';
import { CommandIDs } from './commands';
import { ITryIt, empty, endpointRow, jobRow, modelBlock, sweepBlock } from './rows';

const POLL_INTERVAL = 5 * 1000;
const POLL_MAX = 60 * 1000;
const BYTE_RESOURCES = ['memory', 'storage'];
const BYTE_UNITS: Array<[string, number]> = [
  ['TiB', 2 ** 40],
  ['GiB', 2 ** 30],
  ['MiB', 2 ** 20],
  ['KiB', 2 ** 10]
];

/** Bytes in binary units, as `hubml quota` prints them; cores, GPUs and counts as plain numbers. */
function amount(resource: string, value: number): string {
  if (!BYTE_RESOURCES.some(word => resource.includes(word))) {
    return `${value}`;
  }
  const [unit, scale] = BYTE_UNITS.find(([, scale]) => value >= scale) || ['B', 1];
  return `${Number((value / scale).toPrecision(3))} ${unit}`;
}

const EMPTY = {
  jobs: 'No jobs yet. Run a cell that starts with %%train (New %%train cell above inserts one).',
  sweeps: 'No sweeps yet. A %%tune cell runs one trial job per parameter set.',
  models: 'No models yet. A job that saves a SavedModel to HUBML_MODEL_DIR publishes the next version.',
  endpoints: "No endpoints yet. Deploy a job's model with its Deploy button, or %deploy in a notebook."
};

export class HubMLPanel extends Widget {
  constructor(commands: CommandRegistry) {
    super();
    this.id = 'hubml-sidebar';
    this.addClass('hubml-panel');
    this._commands = commands;
    this._jobs = el('ul', { class: 'hubml-list hubml-jobs' });
    this._sweeps = el('ul', { class: 'hubml-list hubml-sweeps' });
    this._quota = el('ul', { class: 'hubml-list hubml-quotas' });
    this._queue = el('div', { class: 'hubml-detail hubml-queue' });
    this._models = el('ul', { class: 'hubml-list hubml-models' });
    this._endpoints = el('ul', { class: 'hubml-list hubml-endpoints' });
    this._status = el('div', { class: 'hubml-status' });
    this.node.append(
      el('header', { class: 'hubml-header' }, [
        el('h2', {}, ['hubml']),
        button('New %%train cell', 'insert-train', () =>
          this._commands.execute(CommandIDs.insertTrainCell)
        ),
        button('Refresh', 'refresh', () => this.refresh())
      ]),
      this._status,
      el('h3', {}, ['Resources']),
      this._quota,
      this._queue,
      el('h3', {}, ['Jobs']),
      this._jobs,
      el('h3', {}, ['Sweeps']),
      this._sweeps,
      el('h3', {}, ['Models']),
      this._models,
      el('h3', {}, ['Endpoints']),
      this._endpoints
    );
    this._poll = new Poll({
      auto: true,
      factory: () => this._load(),
      frequency: { interval: POLL_INTERVAL, backoff: true, max: POLL_MAX },
      name: 'hubml:sidebar',
      standby: () => !this.isVisible || 'when-hidden'
    });
  }

  /** Load now (after an action, or when shown), without waiting for the next tick. */
  refresh(): Promise<void> {
    return this._poll.refresh();
  }

  dispose(): void {
    this._poll.dispose();
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    void this.refresh();
  }

  private async _load(): Promise<void> {
    // Jobs decide success (a failure backs the poll off); the other lists may
    // fail on their own (e.g. a backend without them) without hiding jobs.
    const [jobs, sweeps, models, endpoints, quota] = await Promise.allSettled([
      requestAPI<IHubMLJobs>('jobs'),
      requestAPI<IHubMLSweeps>('sweeps'),
      requestAPI<IHubMLModels>('models'),
      requestAPI<IHubMLEndpoints>('endpoints'),
      requestAPI<IHubMLQuota>('quota')
    ]);
    const problems: string[] = [];
    const byId = new Map((jobs.status === 'fulfilled' ? jobs.value.jobs : []).map(job => [job.id, job]));
    const trialJobs = new Set<string>();
    if (sweeps.status === 'fulfilled') {
      sweeps.value.sweeps.forEach(sweep => sweep.trials.forEach(t => t.job_id && trialJobs.add(t.job_id)));
      this._fill(this._sweeps, sweeps.value.sweeps.map(sweep => sweepBlock(sweep, byId, this._jobActions)),
        EMPTY.sweeps);
    } else {
      problems.push(`sweeps: ${sweeps.reason.message}`);
    }
    if (jobs.status === 'fulfilled') {
      const own = jobs.value.jobs.filter(job => !trialJobs.has(job.id));  // trials show under their sweep
      this._fill(this._jobs, own.map(job => jobRow(job, this._jobActions)), EMPTY.jobs);
    } else {
      problems.push(`jobs: ${jobs.reason.message}`);
    }
    if (models.status === 'fulfilled') {
      this._fill(this._models, models.value.models.map(model => modelBlock(model, id => this._openLogs(id))),
        EMPTY.models);
    } else {
      problems.push(`models: ${models.reason.message}`);
    }
    if (endpoints.status === 'fulfilled') {
      this._fill(this._endpoints, endpoints.value.endpoints.map(endpoint =>
        endpointRow(endpoint, this._endpointActions, this._tryIt(endpoint.name))), EMPTY.endpoints);
    } else {
      problems.push(`endpoints: ${endpoints.reason.message}`);
    }
    if (quota.status === 'fulfilled') {
      this._showQuota(quota.value);
    } else {
      problems.push(`quota: ${quota.reason.message}`);
    }
    this._status.textContent = problems.join('; ');
    if (jobs.status === 'rejected') {
      throw jobs.reason;
    }
  }

  private _showQuota(quota: IHubMLQuota): void {
    this._quota.replaceChildren(...quota.resources.map(row => this._quotaRow(row)));
    const waits = Object.entries(quota.queued);
    const total = waits.reduce((sum, [, count]) => sum + count, 0);
    this._queue.textContent = total
      ? `${total} job${total === 1 ? '' : 's'} queued: ` +
        waits.map(([why, count]) => `${count} ${why}`).join(', ')
      : 'no jobs queued';
  }

  private _quotaRow(row: IHubMLQuotaRow): HTMLElement {
    const waiting = row.waiting ? ` · ${row.waiting} waiting` : '';
    return el('li', { class: 'hubml-row hubml-quota', 'data-resource': row.resource, title: row.source }, [
      el('span', { class: 'hubml-name' }, [row.resource]),
      el('span', { class: 'hubml-detail' }, [
        `${amount(row.resource, row.used)} / ${amount(row.resource, row.limit)} used${waiting}`
      ])
    ]);
  }

  private _fill(list: HTMLElement, rows: HTMLElement[], emptyText: string): void {
    list.replaceChildren(...(rows.length ? rows : [empty(emptyText)]));
  }

  private _tryIt(name: string): ITryIt {
    if (!this._tryIts.has(name)) {
      this._tryIts.set(name, {});
    }
    return this._tryIts.get(name) as ITryIt;
  }

  private _jobActions = {
    logs: (id: string) => this._openLogs(id),
    cancel: (job: IHubMLJob) =>
      this._confirmed(`Cancel job ${job.id}?`, 'Every replica is stopped; its logs are kept.', 'Cancel job',
        () => this._act(postJSON(`jobs/${job.id}/cancel`))),
    deploy: (job: IHubMLJob) => this._act(postJSON('endpoints', { job: job.id })),
    tensorboard: (id: string) => this._tensorboard(id)
  };

  private _endpointActions = {
    undeploy: (endpoint: IHubMLEndpoint) =>
      this._confirmed(`Undeploy ${endpoint.name}?`, 'Its server stops; clients calling it get errors. ' +
        'The model stays in storage.', 'Undeploy',
      () => this._act(requestAPI(`endpoints/${endpoint.name}`, { method: 'DELETE' }))),
    predict: (endpoint: IHubMLEndpoint, tryIt: ITryIt) => this._predict(endpoint, tryIt)
  };

  /** Ask before an action that stops something; do it only on the warning button. */
  private async _confirmed(title: string, body: string, label: string, action: () => Promise<void>) {
    const answer = await showDialog({
      title,
      body,
      buttons: [Dialog.cancelButton({ label: 'Keep it' }), Dialog.warnButton({ label })]
    });
    if (answer.button.accept) {
      await action();
    }
  }

  private async _predict(endpoint: IHubMLEndpoint, tryIt: ITryIt): Promise<void> {
    let body: unknown;
    try {
      body = JSON.parse(tryIt.draft ?? '');
    } catch (error) {
      tryIt.answer = `not JSON: ${(error as Error).message}`;
      await this.refresh();
      return;
    }
    try {
      tryIt.answer = JSON.stringify(await postJSON(`endpoints/${endpoint.name}/predict`, body));
    } catch (error) {
      tryIt.answer = (error as Error).message;
    }
    await this.refresh();
  }

  private _openLogs(id: string): void {
    void this._commands.execute(CommandIDs.openLogs, { id });
  }

  private async _act(request: Promise<unknown>): Promise<void> {
    try {
      await request;
    } catch (error) {
      await showErrorMessage('hubml', error as Error);
    }
    await this.refresh();
  }

  private async _tensorboard(id: string): Promise<void> {
    try {
      const answer = await postJSON<{ url: string }>(`jobs/${id}/tensorboard`);
      window.open(answer.url, '_blank');
    } catch (error) {
      await showErrorMessage('hubml: TensorBoard', error as Error);
    }
  }

  private _commands: CommandRegistry;
  private _jobs: HTMLElement;
  private _sweeps: HTMLElement;
  private _quota: HTMLElement;
  private _queue: HTMLElement;
  private _models: HTMLElement;
  private _endpoints: HTMLElement;
  private _status: HTMLElement;
  private _tryIts = new Map<string, ITryIt>();
  private _poll: Poll;
}
