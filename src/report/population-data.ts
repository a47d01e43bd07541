/**
 * The data of the population report (`medlake report population`): what the analyses
 * produce, in the shapes the charts take. Counts and rates below the min-cell threshold
 * arrive already suppressed (null).
 */
export interface PopulationReportData {
  readonly title: string;
  /** Lake path, generation time and any note shown in the header. */
  readonly subtitle: string;
  readonly minCell: number;
  /** Incidence per 1,000 person-years by year, with 95% CI, per condition. */
  readonly incidenceTrend: readonly {
    readonly condition: string;
    readonly year: number;
    readonly cases: number | null;
    readonly personYears: number;
    readonly rate: number | null;
    readonly lower: number | null;
    readonly upper: number | null;
  }[];
  /** Annual percent change per condition. */
  readonly apc: readonly {
    readonly condition: string;
    readonly apc: number;
    readonly lower: number;
    readonly upper: number;
  }[];
  /** People alive at the end of the period by age band and sex. */
  readonly pyramid: readonly {
    readonly ageBand: string;
    readonly sex: 'male' | 'female';
    readonly count: number | null;
  }[];
  /** Monthly profile of new cases (all years together) with the fitted seasonal curve. */
  readonly seasonal: readonly {
    readonly condition: string;
    readonly month: number;
    readonly cases: number | null;
    readonly fitted: number | null;
  }[];
  readonly seasonality: readonly {
    readonly condition: string;
    readonly peakMonth: number;
    readonly peakToTrough: number;
    readonly pValue: number;
  }[];
  /** Standardized incidence ratio by region with 95% CI; flagged when the CI is above 1. */
  readonly regions: readonly {
    readonly condition: string;
    readonly region: string;
    readonly observed: number | null;
    readonly expected: number;
    readonly sir: number | null;
    readonly lower: number | null;
    readonly upper: number | null;
    readonly flagged: boolean;
  }[];
  /** Condition pairs: observed vs expected co-occurrence, lift, odds ratio with CI. */
  readonly cooccurrence: readonly {
    readonly a: string;
    readonly b: string;
    readonly observed: number | null;
    readonly expected: number;
    readonly lift: number | null;
    readonly oddsRatio: number | null;
    readonly lower: number | null;
    readonly upper: number | null;
  }[];
  /** Cohort attrition: how many remain after each rule (optional). */
  readonly attrition?: readonly { readonly step: string; readonly remaining: number | null }[];
  /** Table 1: cohort vs comparator (optional). */
  readonly table1?: {
    readonly cohort: string;
    readonly comparator: string;
    readonly rows: readonly {
      readonly section: string;
      readonly variable: string;
      /** Formatted cells, e.g. "1,234 (45.6%)" or "62.1 (11.3)". */
      readonly cohortValue: string;
      readonly comparatorValue: string;
      readonly smd: number | null;
    }[];
  };
}
