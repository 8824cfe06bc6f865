/** The image record's editable fields, shared by the create and edit forms. */
export interface RecordValues {
  name: string;
  visibility: string;
  protected: boolean;
  tags: string;
  min_disk: string;
  min_ram: string;
}

export const VISIBILITIES = ['private', 'shared', 'community', 'public'];

export function RecordFields({ values, set }: { values: RecordValues; set: (field: keyof RecordValues) => (e: Event) => void }) {
  return (
    <>
      <label>
        Name
        <input name="name" required value={values.name} onInput={set('name')} />
      </label>
      <label>
        Visibility
        <select name="visibility" value={values.visibility} onChange={set('visibility')}>
          {VISIBILITIES.map((v) => (
            <option key={v}>{v}</option>
          ))}
        </select>
      </label>
      <label class="check">
        <input name="protected" type="checkbox" checked={values.protected} onChange={set('protected')} />
        Protected
      </label>
      <label>
        Tags (comma separated)
        <input name="tags" value={values.tags} onInput={set('tags')} />
      </label>
      <label>
        Minimum disk (GiB)
        <input name="min_disk" type="number" min="0" value={values.min_disk} onInput={set('min_disk')} />
      </label>
      <label>
        Minimum RAM (MiB)
        <input name="min_ram" type="number" min="0" value={values.min_ram} onInput={set('min_ram')} />
      </label>
    </>
  );
}

/** A comma-separated tag list as the API wants it. */
export function tagList(text: string): string[] {
  return text
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
}
