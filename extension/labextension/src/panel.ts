/**
 * The left-sidebar panel: resources used against capacity (or quota) and the
 * queue, then the user's jobs, endpoints and sweeps with their state, refreshed by a Lumino `Poll` (every 5 s, backing off to 60 s while
 * the server fails, on standby while the panel or the browser tab is hidden).
 */
import { showErrorMessage } from '@jupyterlab/apputils';
import { Poll } from '@lumino/polling';
import { CommandRegistry } from '@lumino/commands';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { postJSON, requestAPI } from './api';
import { badge, button, el } from './dom';
import {
  FINAL_JOB_STATES,
  IHubMLEndpoint,
  IHubMLEndpoints,
  IHubMLJob,
  IHubMLJobs,
  IHubMLQuota,
  IHubMLQuotaRow,
  IHubMLSweep,
  IHubMLSweeps
} from './model';
import { CommandIDs } from './commands';

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

export class HubMLPanel extends Widget {
  constructor(commands: CommandRegistry) {
    super();
    this.id = 'hubml-sidebar';
    this.addClass('hubml-panel');
    this._commands = commands;
    this._jobs = el('ul', { class: 'hubml-list hubml-jobs' });
    this._endpoints = el('ul', { class: 'hubml-list hubml-endpoints' });
    this._sweeps = el('ul', { class: 'hubml-list hubml-sweeps' });
    this._quota = el('ul', { class: 'hubml-list hubml-quotas' });
    this._queue = el('div', { class: 'hubml-detail hubml-queue' });
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
      el('h3', {}, ['Endpoints']),
      this._endpoints,
      el('h3', {}, ['Sweeps']),
      this._sweeps
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
    // Jobs decide success (a failure backs the poll off); endpoints, sweeps and
    // quota may fail on their own (e.g. a backend without them) without hiding jobs.
    const [jobs, endpoints, sweeps, quota] = await Promise.allSettled([
      requestAPI<IHubMLJobs>('jobs'),
      requestAPI<IHubMLEndpoints>('endpoints'),
      requestAPI<IHubMLSweeps>('sweeps'),
      requestAPI<IHubMLQuota>('quota')
    ]);
    const problems: string[] = [];
    if (jobs.status === 'fulfilled') {
      this._jobs.replaceChildren(...jobs.value.jobs.map(job => this._jobRow(job)));
    } else {
      problems.push(`jobs: ${jobs.reason.message}`);
    }
    if (endpoints.status === 'fulfilled') {
      this._endpoints.replaceChildren(
        ...endpoints.value.endpoints.map(endpoint => this._endpointRow(endpoint))
      );
    } else {
      problems.push(`endpoints: ${endpoints.reason.message}`);
    }
    if (sweeps.status === 'fulfilled') {
      this._sweeps.replaceChildren(...sweeps.value.sweeps.map(sweep => this._sweepRow(sweep)));
    } else {
      problems.push(`sweeps: ${sweeps.reason.message}`);
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

  private _jobRow(job: IHubMLJob): HTMLElement {
    const actions = [button('Logs', 'logs', () => this._openLogs(job.id))];
    if (!FINAL_JOB_STATES.includes(job.state)) {
      actions.push(
        button('Cancel', 'cancel', () => this._act(postJSON(`jobs/${job.id}/cancel`)))
      );
    }
    if (job.model) {
      actions.push(
        button('Deploy', 'deploy', () => this._act(postJSON('endpoints', { job: job.id })),
          `Serve ${job.model.model} version ${job.model.version}`)
      );
    }
    actions.push(button('TensorBoard', 'tensorboard', () => this._tensorboard(job.id)));
    const row = el('li', { class: 'hubml-row hubml-job', 'data-id': job.id, title: job.reason }, [
      el('span', { class: 'hubml-name' }, [job.name]),
      el('code', { class: 'hubml-id' }, [job.id]),
      badge(job.state),
      el('div', { class: 'hubml-actions' }, actions)
    ]);
    row.addEventListener('click', () => this._openLogs(job.id));
    return row;
  }

  private _endpointRow(endpoint: IHubMLEndpoint): HTMLElement {
    const versions = endpoint.versions.join(', ') || 'none yet';
    return el('li', { class: 'hubml-row hubml-endpoint', 'data-id': endpoint.name, title: endpoint.reason }, [
      el('span', { class: 'hubml-name' }, [endpoint.name]),
      badge(endpoint.state),
      el('div', { class: 'hubml-detail' }, [`${endpoint.model} v${versions} · ${endpoint.rest_url}`]),
      el('div', { class: 'hubml-actions' }, [
        button('Undeploy', 'undeploy', () =>
          this._act(requestAPI(`endpoints/${endpoint.name}`, { method: 'DELETE' }))
        )
      ])
    ]);
  }

  private _sweepRow(sweep: IHubMLSweep): HTMLElement {
    const finished = sweep.trials.filter(trial => !['PENDING', 'RUNNING'].includes(trial.state));
    const best = sweep.trials.find(trial => trial.number === sweep.best);
    const bestText = best
      ? ` · best ${sweep.spec.objective} ${best.objective?.toPrecision(4)} (trial ${best.number})`
      : '';
    return el('li', { class: 'hubml-row hubml-sweep', 'data-id': sweep.id, title: sweep.reason }, [
      el('span', { class: 'hubml-name' }, [sweep.name]),
      el('code', { class: 'hubml-id' }, [sweep.id]),
      badge(sweep.state),
      el('div', { class: 'hubml-detail' }, [
        `${finished.length}/${sweep.trials.length} trials finished${bestText}`
      ])
    ]);
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
  private _endpoints: HTMLElement;
  private _sweeps: HTMLElement;
  private _quota: HTMLElement;
  private _queue: HTMLElement;
  private _status: HTMLElement;
  private _poll: Poll;
}
