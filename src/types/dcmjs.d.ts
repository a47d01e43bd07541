/** Minimal types for the parts of dcmjs medlake uses (dcmjs ships no TypeScript types). */
declare module 'dcmjs' {
  /** One element of a DICOM JSON-model data set. */
  export interface DicomJsonElement {
    vr: string;
    Value?: unknown[];
  }

  export interface DicomDict {
    /** File Meta Information, keyed by tag (GGGGEEEE, upper-case hex). */
    meta: Record<string, DicomJsonElement>;
    /** The data set, keyed by tag. */
    dict: Record<string, DicomJsonElement>;
  }

  const dcmjs: {
    data: {
      DicomMessage: {
        /** Parses a Part 10 file (preamble, DICM, File Meta, data set). */
        readFile(buffer: ArrayBuffer): DicomDict;
      };
      DicomMetaDictionary: {
        /** Turns a tag-keyed data set into one keyed by attribute keyword. */
        naturalizeDataset(dict: Record<string, DicomJsonElement>): Record<string, unknown>;
      };
    };
  };
  export default dcmjs;
}
