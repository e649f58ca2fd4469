/**
 * `now.*` for rules: the decision clock broken into calendar fields in the
 * policy's time zone (`defaults.timezone`, UTC by default), so "no writes
 * outside business hours" is `now.hour < 9 || now.hour >= 18 ||
 * now.weekday in ['saturday', 'sunday']`.
 */

export interface TimeContext {
  year: bigint;
  month: bigint;
  day: bigint;
  hour: bigint;
  minute: bigint;
  /** Lower-case English day name: `monday` ... `sunday`. */
  weekday: string;
  /** `YYYY-MM-DD`. */
  date: string;
  /** `HH:MM`, 24-hour. */
  time: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      weekday: "long",
      hourCycle: "h23",
    });
    formatters.set(tz, f);
  }
  return f;
}

/** Calendar fields of `now` in time zone `tz`. */
export function timeContext(now: Date, tz: string): TimeContext {
  const parts: Record<string, string> = {};
  for (const p of formatter(tz).formatToParts(now)) parts[p.type] = p.value;
  const year = parts.year ?? "1970";
  const month = parts.month ?? "01";
  const day = parts.day ?? "01";
  const hour = parts.hour ?? "00";
  const minute = parts.minute ?? "00";
  return {
    year: BigInt(year),
    month: BigInt(month),
    day: BigInt(day),
    hour: BigInt(hour),
    minute: BigInt(minute),
    weekday: (parts.weekday ?? "").toLowerCase(),
    date: `${year}-${month}-${day}`,
    time: `${hour}:${minute}`,
  };
}
