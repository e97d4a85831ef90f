/**
 * The read side of conversations for the API: pages of threads and of a thread's messages, and one
 * message. Keyset pagination (`../http/pagination.ts`): the repositories fetch `limit + 1` rows,
 * the extra one telling whether another page exists.
 */
import type { Db } from '../db/database.js';
import type { PageRequest } from '../http/pagination.js';
import { toPage } from '../http/pagination.js';
import { notFound } from '../shared/errors.js';
import { findMessage, listThreadMessages } from './messages.repository.js';
import { type MessageJson, presentMessage } from './messages.presenter.js';
import { findThread, listThreads, type ThreadListFilter } from './threads.repository.js';
import { presentThread, type ThreadJson } from './threads.service.js';

export interface Page<Item> {
  data: Item[];
  next_cursor: string | null;
}

/**
 * A page of the organization's threads, newest activity first.
 * @param filter `viewerId` adds the viewer's unread counts and resolves `assignee: 'me'`
 */
export async function listThreadPage(db: Db, orgId: string, page: PageRequest, filter: ThreadListFilter): Promise<Page<ThreadJson>> {
  const rows = await listThreads(db, orgId, page.limit + 1, page.after, filter);
  return toPage(rows, page.limit, (row) => ({ at: row.cursor_at, id: row.id }), presentThread);
}

/**
 * A page of a thread's messages, newest first.
 * @throws AppError not_found when the thread is not the organization's
 */
export async function listThreadMessagePage(db: Db, orgId: string, threadId: string, page: PageRequest): Promise<Page<MessageJson>> {
  if (!(await findThread(db, orgId, threadId))) throw notFound('thread');
  const rows = await listThreadMessages(db, orgId, threadId, page.limit + 1, page.after);
  return toPage(rows, page.limit, (row) => ({ at: row.cursor_at, id: row.id }), presentMessage);
}

/** One of the organization's messages. @throws AppError not_found */
export async function getMessage(db: Db, orgId: string, messageId: string): Promise<MessageJson> {
  const message = await findMessage(db, orgId, messageId);
  if (!message) throw notFound('message');
  return presentMessage(message);
}
