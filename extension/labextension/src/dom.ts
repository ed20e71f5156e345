/** A tiny element builder: the sidebar is a few lists, not worth a framework. */
export function el(
  tag: string,
  attributes: { [name: string]: string } = {},
  children: Array<Node | string> = []
): HTMLElement {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    element.setAttribute(name, value);
  }
  for (const child of children) {
    element.append(child);
  }
  return element;
}

export function button(
  label: string,
  action: string,
  onClick: () => void,
  title = ''
): HTMLElement {
  const element = el(
    'button',
    {
      class: `jp-Button hubml-button hubml-${action}`,
      'data-action': action,
      title: title || label
    },
    [label]
  );
  element.addEventListener('click', event => {
    event.stopPropagation();
    onClick();
  });
  return element;
}

export function badge(state: string): HTMLElement {
  return el('span', { class: `hubml-state hubml-state-${state}` }, [state]);
}
