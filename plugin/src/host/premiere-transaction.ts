/**
 * The one way the panel edits Premiere: actions are created inside `lockedAccess` (required from 26.3,
 * harmless on 25.6) and committed by one `executeTransaction`, which makes them one undo step.
 * Both callbacks are synchronous: every await must happen before this is called.
 */
import type { Action, Project } from '@adobe/premierepro';

export function lockedTransaction(project: Project, undoLabel: string, createActions: () => Action[]): boolean {
  let committed = false;
  project.lockedAccess(() => {
    const actions = createActions();
    committed = project.executeTransaction((compound) => {
      for (const action of actions) compound.addAction(action);
    }, undoLabel);
  });
  return committed;
}
