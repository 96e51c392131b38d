// Shapes of the Taskify API's JSON bodies, as far as the UI reads them.

export const STATUSES = ['pending', 'in_progress', 'completed', 'cancelled'] as const;
export const PRIORITIES = ['low', 'medium', 'high', 'urgent'] as const;
export type Status = (typeof STATUSES)[number];
export type Priority = (typeof PRIORITIES)[number];

export const STATUS_LABEL: Record<Status, string> = {
  pending: 'Pending',
  in_progress: 'In progress',
  completed: 'Completed',
  cancelled: 'Cancelled',
};
export const PRIORITY_LABEL: Record<Priority, string> = { low: 'Low', medium: 'Medium', high: 'High', urgent: 'Urgent' };

export interface Task {
  id: string;
  user_id: string;
  title: string;
  description: string;
  status: Status;
  priority: Priority;
  due_date: string | null;
  created_at: string;
  updated_at: string;
  version: number;
  owner_username: string;
}

export interface Page {
  total: number;
  page: number;
  page_size: number;
  total_pages: number;
  /** Present (true) when `total` stopped counting at its cap: a lower bound (docs/http-contract.md#pagination). */
  total_capped?: boolean;
}

export interface TaskPage extends Page {
  tasks: Task[];
}

export interface RoleAssignment {
  role: string;
  assigned_at: string;
  expires_at: string | null;
  assigned_by: string | null;
}

export interface User {
  id: string;
  username: string;
  email: string;
  first_name: string;
  last_name: string;
  department: string | null;
  position: string | null;
  is_active: boolean;
  last_login_at: string | null;
  created_at: string;
  updated_at: string;
  role: string;
  roles: string[];
  role_assignments?: RoleAssignment[];
}

export interface Profile extends User {
  permissions: string[];
}

export interface UserPage extends Page {
  users: User[];
}

export interface Attribute {
  key: string;
  value: unknown;
  data_type: 'string' | 'number' | 'boolean' | 'datetime';
  source: string;
  expires_at: string | null;
  active: boolean;
}

export interface Permission {
  id: string;
  resource: string;
  action: string;
  scope: string;
  description: string;
}

export interface Role {
  id: string;
  name: string;
  description: string;
  permissions: Permission[];
}

export interface AuditEntry {
  id: string;
  timestamp: string;
  user_id: string | null;
  action: string;
  resource: string;
  resource_id: string | null;
  decision: 'allowed' | 'denied';
  reason: string;
  method: string;
  path: string;
  ip_address: string | null;
}

export interface AuditPage extends Page {
  audit_logs: AuditEntry[];
}

export interface Job {
  id: string;
  type: string;
  priority: number;
  attempts?: number;
  last_error?: string;
  failed_at?: string;
  process_at?: string;
  payload?: unknown;
  [key: string]: unknown;
}

export interface LoginResponse {
  access_token: string;
  refresh_token: string;
  user: User;
  permissions: string[];
}
