/**
 * A job's logs in the main area: every replica's lines, followed with the
 * server's long-poll (`follow=1`) and resume cursor until the job is final.
 */
import { Widget } from '@lumino/widgets';

import { requestAPI } from './api';
import { el } from './dom';
import { IHubMLLogPage } from './model';

const RETRY_DELAY = 5000;

export class LogsView extends Widget {
  constructor(readonly jobId: string) {
    super();
    this.addClass('hubml-logs');
    this.node.dataset.jobId = jobId;
    this._text = el('pre', { class: 'hubml-log-text' });
    this._status = el('div', { class: 'hubml-log-status' }, ['following…']);
    this.node.append(this._status, this._text);
    void this._follow();
  }

  private async _follow(): Promise<void> {
    let cursor: { [key: string]: unknown } = {};
    while (!this.isDisposed) {
      let page: IHubMLLogPage;
      try {
        page = await requestAPI<IHubMLLogPage>(`jobs/${this.jobId}/logs`, {}, {
          cursor: JSON.stringify(cursor),
          follow: '1'
        });
      } catch (error) {
        this._status.textContent = `${(error as Error).message} (retrying)`;
        await new Promise(resolve => setTimeout(resolve, RETRY_DELAY));
        continue;
      }
      if (this.isDisposed) {
        return;
      }
      const atBottom = this.node.scrollTop + this.node.clientHeight >= this.node.scrollHeight - 4;
      const text = page.lines.map(line => `[${line.role}-${line.index}] ${line.text}\n`).join('');
      this._text.append(text);
      if (atBottom) {
        this.node.scrollTop = this.node.scrollHeight;
      }
      cursor = page.cursor;
      if (page.final) {
        this._status.textContent = 'the job has ended';
        this.node.dataset.final = 'true';
        return;
      }
    }
  }

  private _text: HTMLElement;
  private _status: HTMLElement;
}
