// Who is signed in. The profile (with `permissions`) is the session: it is fetched after login and
// after a reload (the client refreshes the access token first), and cleared on logout.

import { createContext, useCallback, useContext, useEffect, useMemo, type ReactNode } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, clearTokens, hasRefreshToken, getAccessToken, setSessionLostHandler, storeTokens } from './client';
import type { LoginResponse, Profile } from './types';

interface SessionValue {
  profile: Profile | null;
  loading: boolean;
  can: (permission: string) => boolean;
  login: (email: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
}

const SessionContext = createContext<SessionValue | null>(null);
export const PROFILE_KEY = ['profile'] as const;

export function SessionProvider({ children, onLost }: { children: ReactNode; onLost: () => void }) {
  const qc = useQueryClient();
  useEffect(() => {
    setSessionLostHandler(() => {
      qc.setQueryData(PROFILE_KEY, null);
      qc.removeQueries({ predicate: (q) => q.queryKey[0] !== 'profile' });
      onLost();
    });
  }, [qc, onLost]);

  const query = useQuery({
    queryKey: PROFILE_KEY,
    queryFn: async () => {
      if (!getAccessToken() && !hasRefreshToken()) return null;
      return (await api.get<Profile>('/users/profile')).data;
    },
    staleTime: 60_000,
    retry: false,
  });

  const login = useCallback(
    async (email: string, password: string) => {
      const { data } = await api.post<LoginResponse>('/auth/login', { email, password }, { auth: false });
      storeTokens(data);
      qc.removeQueries({ predicate: (q) => q.queryKey[0] !== 'profile' });
      qc.setQueryData<Profile>(PROFILE_KEY, { ...data.user, permissions: data.permissions });
    },
    [qc],
  );

  const logout = useCallback(async () => {
    const refresh = localStorage.getItem('taskify.refresh_token');
    const token = getAccessToken();
    if (refresh) {
      try {
        await api.post('/auth/logout', { refresh_token: refresh }, {
          auth: false,
          headers: token ? { Authorization: `Bearer ${token}` } : {},
        });
      } catch {
        // the tokens are dropped locally anyway
      }
    }
    clearTokens();
    qc.clear();
    qc.setQueryData(PROFILE_KEY, null);
  }, [qc]);

  const profile = query.data ?? null;
  const value = useMemo<SessionValue>(
    () => ({
      profile,
      loading: query.isPending,
      can: (p) => !!profile?.permissions.includes(p),
      login,
      logout,
    }),
    [profile, query.isPending, login, logout],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside SessionProvider');
  return value;
}
