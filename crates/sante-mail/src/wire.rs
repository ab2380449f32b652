//! The connection of a line-based mail session (IMAP, POP3): input read in chunks
//! and kept until a whole line or literal is there, output gathered and written in
//! one go, and the wait for more input bounded by the server's shutdown and by a
//! deadline per command: a client trickling a byte at a time gets no more time for a
//! command than one that sends nothing.

use std::time::Duration;

use tokio::time::Instant;

use sante_net::IoStream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// How a wait for input ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    /// More input is buffered.
    Data,
    /// The client closed the connection.
    Closed,
    /// The command was not whole within the idle timeout.
    Idle,
    /// The server is shutting down.
    Shutdown,
}

pub struct Wire {
    pub stream: Box<dyn IoStream>,
    /// Read and not yet consumed.
    pub input: Vec<u8>,
    /// To be written at the next flush.
    pub output: Vec<u8>,
    idle: Duration,
    /// When the command being read must be whole.
    deadline: Instant,
}

impl Wire {
    pub fn new(stream: Box<dyn IoStream>, idle: Duration) -> Wire {
        Wire {
            stream,
            input: Vec::new(),
            output: Vec::new(),
            idle,
            deadline: Instant::now() + idle,
        }
    }

    /// The wait allowed for each command from now on (longer once logged in).
    pub fn set_idle(&mut self, idle: Duration) {
        self.idle = idle;
    }

    /// A new command begins: it has the idle timeout to arrive whole.
    pub fn begin_command(&mut self) {
        self.deadline = Instant::now() + self.idle;
    }

    pub async fn flush(&mut self) -> std::io::Result<()> {
        if !self.output.is_empty() {
            self.stream.write_all(&self.output).await?;
            self.stream.flush().await?;
            self.output.clear();
        }
        Ok(())
    }

    /// Writes what is pending, then waits for more input.
    pub async fn read_more(&mut self, shutdown: &CancellationToken) -> std::io::Result<Waited> {
        self.flush().await?;
        let mut chunk = [0u8; 16 * 1024];
        let read = tokio::select! {
            _ = shutdown.cancelled() => return Ok(Waited::Shutdown),
            r = tokio::time::timeout_at(self.deadline, self.stream.read(&mut chunk)) => r,
        };
        match read {
            Ok(Ok(0)) => Ok(Waited::Closed),
            Ok(Ok(n)) => {
                self.input.extend_from_slice(&chunk[..n]);
                Ok(Waited::Data)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Ok(Waited::Idle),
        }
    }

    /// Where the first buffered line ends (its `\n`), if one is whole.
    pub fn line_end(&self) -> Option<usize> {
        self.input.iter().position(|&b| b == b'\n')
    }
}
