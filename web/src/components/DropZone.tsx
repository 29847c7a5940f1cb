/** A score picker: drop a file on it, or activate it (click, Enter, Space) to open the file dialog. */
import { useEffect, useState, type DragEvent } from 'react';

export const ACCEPT = '.musicxml,.xml,.mxl';
/** The API's upload limit (singer_tasks/settings.py max_upload_bytes), checked before sending. */
export const MAX_SCORE_BYTES = 2_000_000;

/** Null when `name` looks like a score; otherwise why not, in words. */
export function checkScoreName(name: string): string | null {
  return /\.(musicxml|xml|mxl)$/i.test(name)
    ? null
    : `"${name}" is not a MusicXML score. Choose a .musicxml, .xml or .mxl file (export it from your notation program).`;
}

/** Null when the files are one score of an acceptable size; otherwise why not, in words. */
export function checkScoreFiles(files: readonly Pick<File, 'name' | 'size'>[], maxBytes = MAX_SCORE_BYTES): string | null {
  if (files.length === 0) return 'No file was dropped. Drop a MusicXML score on the box.';
  if (files.length > 1) return `${files.length} files were dropped; a song is one score. Drop a single .musicxml, .xml or .mxl file.`;
  const file = files[0] as Pick<File, 'name' | 'size'>;
  const name = checkScoreName(file.name);
  if (name) return name;
  if (file.size === 0) return `"${file.name}" is empty. Export the score again.`;
  if (file.size > maxBytes) {
    return `"${file.name}" is ${(file.size / 1e6).toFixed(1)} MB; a score may be ${(maxBytes / 1e6).toFixed(1)} MB at most. Export it compressed (.mxl) or remove other parts.`;
  }
  return null;
}

interface Props {
  file: File | null;
  /** A picked file that passed checkScoreFiles. */
  onFile(file: File): void;
  /** Why a pick or drop was refused. */
  onRefused(reason: string): void;
  disabled?: boolean;
}

/**
 * While mounted, a file dropped anywhere else on the page is caught (the browser would otherwise
 * leave the app to open the file) and explained.
 */
function useStrayDrops(onRefused: (reason: string) => void): void {
  useEffect(() => {
    const over = (e: globalThis.DragEvent) => {
      if (e.dataTransfer?.types.includes('Files')) e.preventDefault();
    };
    const drop = (e: globalThis.DragEvent) => {
      if (!e.dataTransfer?.types.includes('Files')) return;
      e.preventDefault();
      if (!(e.target instanceof Element && e.target.closest('.dropzone'))) {
        onRefused('The file was dropped outside the box. Drop it on “Drop a MusicXML score here”.');
      }
    };
    window.addEventListener('dragover', over);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragover', over);
      window.removeEventListener('drop', drop);
    };
  }, [onRefused]);
}

export function DropZone({ file, onFile, onRefused, disabled = false }: Props) {
  const [over, setOver] = useState(false);
  useStrayDrops(onRefused);
  const take = (files: File[]) => {
    const problem = checkScoreFiles(files);
    if (problem) onRefused(problem);
    else if (files[0]) onFile(files[0]);
  };
  const drop = (event: DragEvent) => {
    event.preventDefault();
    setOver(false);
    if (!disabled) take([...event.dataTransfer.files]);
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
          const picked = [...(e.target.files ?? [])];
          if (picked.length) take(picked);
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
            <strong>Drop a MusicXML score here</strong> or click to choose one (.musicxml, .xml, .mxl, up to{' '}
            {MAX_SCORE_BYTES / 1e6} MB)
          </>
        )}
      </span>
    </label>
  );
}
