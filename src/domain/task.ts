/** Tasks: the record of an asynchronous job (an image import), as Glance keeps them. */
export type TaskStatus = 'pending' | 'processing' | 'success' | 'failure';

export interface Task {
  id: string;
  type: string;
  status: TaskStatus;
  owner: string;
  image_id: string | null;
  request_id: string | null;
  user_id: string | null;
  input: Record<string, unknown> | null;
  result: Record<string, unknown> | null;
  message: string;
  expires_at: Date | null;
  created_at: Date;
  updated_at: Date | null;
}

/** Glance's `task_time_to_live`: finished tasks are kept this long. */
export const TASK_TIME_TO_LIVE_MS = 48 * 3600 * 1000;
