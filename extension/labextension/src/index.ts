/**
 * hubml's JupyterLab sidebar: jobs, endpoints and sweeps at a glance, logs a
 * click away, and a command that inserts a `%%train` cell.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';

import { CommandIDs, TRAIN_TEMPLATE } from './commands';
import { LogsView } from './logs';
import { HubMLPanel } from './panel';

// hubml's own mark: an "h" on a rounded tile, in the theme's icon colour.
const ICON = new LabIcon({
  name: 'hubml:icon',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<path fill-rule="evenodd" d="M5 2h14a3 3 0 0 1 3 3v14a3 3 0 0 1-3 3H5a3 3 0 0 1-3-3V5a3 3 0 0 1 3-3z' +
    'M7 5v14h2.6v-6.2c0-1.4 1.1-2.4 2.4-2.4s2.4 1 2.4 2.4V19H17v-6.2c0-2.8-2.2-5-5-5-1 0-1.8.3-2.4.7V5z"/>' +
    '</g></svg>'
});

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'hubml:sidebar',
  description: "hubml's sidebar: your jobs, endpoints and sweeps",
  autoStart: true,
  optional: [INotebookTracker, ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    notebooks: INotebookTracker | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const panel = new HubMLPanel(app.commands);
    panel.title.icon = ICON;
    panel.title.caption = 'hubml: jobs, endpoints, sweeps';
    app.shell.add(panel, 'left', { rank: 600 });
    restorer?.add(panel, 'hubml-sidebar');

    const logs = new WidgetTracker<MainAreaWidget<LogsView>>({ namespace: 'hubml-logs' });
    app.commands.addCommand(CommandIDs.openLogs, {
      label: 'Show hubml job logs',
      execute: args => {
        const id = args.id as string;
        const open = logs.find(widget => widget.content.jobId === id);
        if (open) {
          app.shell.activateById(open.id);
          return;
        }
        const widget = new MainAreaWidget({ content: new LogsView(id) });
        widget.id = `hubml-logs-${id}`;
        widget.title.label = `Logs: ${id}`;
        widget.title.icon = ICON;
        widget.title.closable = true;
        void logs.add(widget);
        app.shell.add(widget, 'main');
        app.shell.activateById(widget.id);
      }
    });

    app.commands.addCommand(CommandIDs.insertTrainCell, {
      label: 'Insert a %%train cell',
      caption: 'Insert a %%train template cell below the active cell',
      isEnabled: () => !!notebooks?.currentWidget,
      execute: () => {
        const current = notebooks?.currentWidget;
        if (!current) {
          return;
        }
        NotebookActions.insertBelow(current.content);
        current.content.activeCell?.model.sharedModel.setSource(TRAIN_TEMPLATE);
      }
    });
    palette?.addItem({ command: CommandIDs.insertTrainCell, category: 'hubml' });
  }
};

export default plugin;
