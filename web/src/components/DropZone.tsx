/** A score picker: drop a file on it, or activate it (click, Enter, Space) to open the file dialog. */
import { useState, type DragEvent } from 'react';

export const ACCEPT = '.musicxml,.xml,.mxl';

/** Null when `name` looks like a score; otherwise why not, in words. */
export function checkScoreName(name: string): string | null {
  return /\.(musicxml|xml|mxl)$/i.test(name)
    ? null
    : `"${name}" is not a MusicXML score. Choose a .musicxml, .xml or .mxl file (export it from your notation program).`;
}

interface Props {
  file: File | null;
  onFile(file: File): void;
  disabled?: boolean;
}

export function DropZone({ file, onFile, disabled = false }: Props) {
  const [over, setOver] = useState(false);
  const drop = (event: DragEvent) => {
    event.preventDefault();
    setOver(false);
    const dropped = event.dataTransfer.files[0];
    if (dropped && !disabled) onFile(dropped);
  };
  return (
    <label
      className={`dropzone${over ? ' over' : ''}`}
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={drop}
    >
      <input
        type="file"
        className="visually-hidden"
        accept={ACCEPT}
        disabled={disabled}
        aria-describedby="dropzone-text"
        onChange={(e) => {
          const picked = e.target.files?.[0];
          if (picked) onFile(picked);
          e.target.value = '';
        }}
      />
      <span id="dropzone-text">
        {file ? (
          <>
            <strong>{file.name}</strong> ({Math.ceil(file.size / 1024)} KB) — drop another score or click to change it
          </>
        ) : (
          <>
            <strong>Drop a MusicXML score here</strong> or click to choose one (.musicxml, .xml, .mxl)
          </>
        )}
      </span>
    </label>
  );
}
